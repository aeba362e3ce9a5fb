"""LISTEN for new jobs and for control messages, on one connection of its own.

Enqueues send ``NOTIFY toro_jobs, '<queue>'`` when they commit: one on a served queue wakes the
claim loop at once. Cancel requests send ``NOTIFY toro_control, 'cancel'``, which wakes the
cancel watcher. The listener reconnects through outages; the claim loop's and the watcher's
polls cover the gap, so a lost notification costs at most a poll interval.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from toro_core.runtime.retry import TRANSIENT, Retry
from toro_core.runtime.waker import Waker
from toro_core.store import aconnect, translated

log = logging.getLogger("toro.worker")
CHANNEL = "toro_jobs"
CONTROL_CHANNEL = "toro_control"


class Listener:
    """See the module docstring; :meth:`run` until cancelled."""

    def __init__(self, conninfo: str, queues: Iterable[str], waker: Waker, control: Waker) -> None:
        self.conninfo = conninfo
        self.queues = frozenset(queues)
        self.waker = waker
        self.control = control
        #: Times the LISTEN connection was opened again after it was lost.
        self.reconnects = 0
        self._connected_before = False

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
                await conn.execute(f"LISTEN {CONTROL_CHANNEL}")
                retry.succeeded()
                if self._connected_before:
                    self.reconnects += 1
                self._connected_before = True
                self.waker.wake()  # anything enqueued (or cancelled) while we were away
                self.control.wake()
                async for notification in conn.notifies():
                    if notification.channel == CONTROL_CHANNEL:
                        self.control.wake()
                    elif notification.payload in self.queues:
                        self.waker.wake()
