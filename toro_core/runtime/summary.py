"""The summary line: what a worker process ran lately, every ``summary_interval`` seconds.

Per-job lines are DEBUG (``toro.job``): at thousands of jobs a second they would cost more
CPU than the jobs and bury what a person looks for. Each job's own record is its row in
``toro_jobs``; the log says that the process is alive and how it fares, and every failure
(one INFO line each). A summary is written only when jobs ran since the previous one, so an
idle worker stays quiet.
"""

from __future__ import annotations

import collections
import logging
import time
from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    from toro_core.runtime.executor import Executor
    from toro_core.runtime.slots import Slots

log = logging.getLogger("toro.worker")


class Summary:
    """Logs a summary line every ``interval`` seconds until ``stopping`` is set."""

    def __init__(
        self, executor: Executor, slots: Slots, interval: float, stopping: anyio.Event
    ) -> None:
        self.executor = executor
        self.slots = slots
        self.interval = interval
        self.stopping = stopping

    async def run(self) -> None:
        if not self.interval:
            return
        seen: collections.Counter[str] = collections.Counter()
        since = time.monotonic()
        while not self.stopping.is_set():
            with anyio.move_on_after(self.interval):
                await self.stopping.wait()
            now = time.monotonic()
            current = collections.Counter(self.executor.finished)
            ran = current - seen
            if ran:
                log.info("%s", self.line(ran, now - since))
            seen, since = current, now

    def line(self, ran: collections.Counter[str], seconds: float) -> str:
        """``1,204 jobs in 10s (120.4/s): 1,200 complete, 4 failed; 3 of 10 slots busy``."""
        total = sum(ran.values())
        by_status = ", ".join(f"{count:,} {status}" for status, count in ran.most_common())
        rate = total / max(seconds, 0.001)
        return (
            f"{total:,} jobs in {seconds:.0f}s ({rate:,.1f}/s): {by_status}; "
            f"{self.slots.busy} of {self.slots.concurrency} slots busy"
        )
