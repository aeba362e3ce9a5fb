"""The promoter: moves due ``scheduled`` jobs to ``queued``, in every worker process, and
queues again jobs ``blocked`` on a concurrency limit that has free slots.

Jobs wait as ``scheduled`` until their ``scheduled_at`` when they were enqueued for later
(``perform_in``, ``perform_at``), retried with a delay (toro-retry) or snoozed. Every
``promote_interval`` seconds (0.25 by default, with jitter so processes do not fire in step)
one statement promotes up to ``promote_batch`` due jobs, earliest first, and notifies the queues
that got jobs, so an idle worker claims a due job well within a second. A full batch is
followed at once by another. Rows are taken with ``FOR UPDATE SKIP LOCKED``: any number of
processes promote side by side without waiting on each other or promoting a job twice.
"""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING

import anyio

from toro_core.runtime.retry import TRANSIENT, Retry

if TYPE_CHECKING:
    from toro_core.settings import WorkerSettings
    from toro_core.store import CoreStore

log = logging.getLogger("toro.worker")


class Promoter:
    """See the module docstring; :meth:`run` until ``stopping`` is set."""

    def __init__(self, store: CoreStore, settings: WorkerSettings, stopping: anyio.Event) -> None:
        self.store = store
        self.interval = settings.promote_interval
        self.batch = settings.promote_batch
        self.stopping = stopping
        #: Jobs promoted by this process so far, and jobs queued again after a limit's slot
        #: freed (those the freeing job did not hand its slot to at once).
        self.promoted = 0
        self.unblocked = 0

    async def run(self) -> None:
        retry = Retry("promoting scheduled jobs", log)
        while not self.stopping.is_set():
            try:
                count = await self.store.promote_due(self.batch)
                self.unblocked += await self.store.unblock()
            except TRANSIENT as exc:
                await retry.pause(exc, until=self.stopping)
                continue
            retry.succeeded()
            self.promoted += count
            if count:
                log.debug("promoted %d scheduled jobs", count)
            if count >= self.batch:
                continue  # more are due: take the next batch now
            with anyio.move_on_after(self.interval * random.uniform(0.8, 1.2)):
                await self.stopping.wait()
