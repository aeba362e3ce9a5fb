"""Cancel requests for the jobs this process runs.

``toro-core jobs cancel``, the monitor and ``app.cancel`` mark a running job with
``cancel_requested_at`` and send ``NOTIFY toro_control, 'cancel'``. Woken by it (through the
listener), or every ``interval`` seconds when a notification was lost, this part asks the
database which of this process's running jobs were asked to stop (one statement on the
running-jobs index, only while jobs run) and stops them (:meth:`Slots.cancel`). The outcome
write turns them into ``cancelled`` whatever the attempt ends with, so a missed request is
never a job that runs on to be retried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from toro_core.runtime.retry import TRANSIENT, Retry

if TYPE_CHECKING:
    from toro_core.runtime.slots import Slots
    from toro_core.runtime.waker import Waker
    from toro_core.store import CoreStore

log = logging.getLogger("toro.worker")


class CancelWatcher:
    """See the module docstring; :meth:`run` until cancelled."""

    def __init__(
        self,
        store: CoreStore,
        slots: Slots,
        owner: Callable[[], str],
        waker: Waker,
        interval: float,
    ) -> None:
        self.store = store
        self.slots = slots
        self.owner = owner
        self.waker = waker
        self.interval = interval

    async def run(self) -> None:
        retry = Retry("checking for cancel requests", log)
        while True:
            await self.waker.sleep(self.interval)
            if not self.slots.running:
                continue
            try:
                ids = await self.store.cancel_requested(self.owner())
            except TRANSIENT as exc:
                await retry.pause(exc)
                continue
            retry.succeeded()
            if ids:
                self.slots.cancel(ids)
