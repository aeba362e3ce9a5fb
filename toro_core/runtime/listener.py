"""LISTEN for new jobs: a notification on a served queue wakes the claim loop at once.

Enqueues send ``NOTIFY toro_jobs, '<queue>'`` when they commit. The listener holds one
connection of its own outside the pool and reconnects through outages; the claim loop's poll
covers the gap, so a lost notification delays a job by at most the poll interval.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from toro_core.runtime.retry import TRANSIENT, Retry
from toro_core.runtime.waker import Waker
from toro_core.store import aconnect, translated

log = logging.getLogger("toro.worker")
CHANNEL = "toro_jobs"


class Listener:
    """See the module docstring; :meth:`run` until cancelled."""

    def __init__(self, conninfo: str, queues: Iterable[str], waker: Waker) -> None:
        self.conninfo = conninfo
        self.queues = frozenset(queues)
        self.waker = waker

    async def run(self) -> None:
        retry = Retry("the LISTEN connection", log)
        while True:
            try:
                await self._listen(retry)
            except TRANSIENT as exc:
                await retry.pause(exc)

    async def _listen(self, retry: Retry) -> None:
        conn = await aconnect(self.conninfo, connect_timeout=5)
        with translated(self.conninfo):
            async with conn:
                await conn.execute(f"LISTEN {CHANNEL}")
                retry.succeeded()
                self.waker.wake()  # anything enqueued while we were away
                async for notification in conn.notifies():
                    if notification.payload in self.queues:
                        self.waker.wake()
