"""LISTEN for new jobs and for control messages, on one connection of its own.

Enqueues send ``NOTIFY toro_jobs, '<queue>'`` when they commit: one on a served queue wakes the
claim loop at once. Cancel requests send ``NOTIFY toro_control, 'cancel'``, which wakes the
cancel watcher. The listener reconnects through outages; the claim loop's and the watcher's
polls cover the gap, so a lost notification costs at most a poll interval. It connects where
``app.connections.listen`` says: behind PgBouncer in transaction mode, a direct listen URL or
nothing at all (then the polls do all the finding).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from toro_core.runtime.retry import TRANSIENT, Retry
from toro_core.runtime.waker import Waker
from toro_core.store import aconnect, translated

if TYPE_CHECKING:
    from toro_core.connections import Connections
    from toro_core.settings import WorkerSettings

log = logging.getLogger("toro.worker")
CHANNEL = "toro_jobs"
CONTROL_CHANNEL = "toro_control"


def listener_for(
    connections: Connections, settings: WorkerSettings, waker: Waker, control: Waker
) -> Listener | None:
    """The listener of a worker process, on ``connections.listen``; ``None`` (and a log line
    saying so) when nothing can listen: behind PgBouncer in transaction mode without a listen
    URL, where the claim loop and the cancel watcher find their work by polling."""
    if connections.listen is not None:
        return Listener(connections.listen, settings.queues, waker, control)
    log.info(
        "behind PgBouncer in transaction mode without a listen URL (TORO_LISTEN_DATABASE_URL): "
        "nothing LISTENs, new jobs and cancel requests are found by polling every %g s "
        "(--poll-interval)",
        settings.poll_interval,
    )
    return None


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
