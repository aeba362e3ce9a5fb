"""The promoter: a service in every worker process that moves due scheduled jobs to queued.

Every ``interval`` seconds (0.25 by default, with jitter so processes do not fire in step) it
runs one statement that promotes up to ``batch`` due jobs, earliest first, and notifies the
queues that got jobs, so an idle worker claims a due job well within a second. A full batch
is followed at once by another. Rows are taken with ``FOR UPDATE SKIP LOCKED``: any number of
processes promote side by side without waiting on each other or promoting a job twice.

Through a database outage it backs off (0.1 s doubling to 5 s) and carries on; it returns
when the process begins to stop.

Environment: ``TORO_SCHEDULER_INTERVAL`` (seconds, default 0.25), ``TORO_SCHEDULER_BATCH``
(jobs per statement, default 1000).
"""

from __future__ import annotations

import logging
import os
import random
from typing import TYPE_CHECKING, Any

from toro_core.runtime.backoff import TRANSIENT, Backoff
from toro_scheduler.sql import query
from toro_scheduler.timing import sleep_unless

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

    from toro_core.runtime.context import ServiceContext

log = logging.getLogger("toro.scheduler")

DEFAULT_INTERVAL = 0.25
DEFAULT_BATCH = 1000


class Promoter:
    """See the module docstring; :meth:`run` is the service."""

    def __init__(
        self,
        context: ServiceContext,
        *,
        interval: float | None = None,
        batch: int | None = None,
    ) -> None:
        self.context = context
        self.interval = interval if interval is not None else _env_float(
            "TORO_SCHEDULER_INTERVAL", DEFAULT_INTERVAL
        )
        self.batch = batch if batch is not None else int(
            _env_float("TORO_SCHEDULER_BATCH", DEFAULT_BATCH)
        )
        #: Jobs promoted by this process so far.
        self.promoted = 0

    async def run(self) -> None:
        stopping = self.context.stopping
        backoff = Backoff()
        while not stopping.is_set():
            try:
                count = await promote_due(self.context.pool, self.batch)
            except TRANSIENT as exc:
                delay = backoff.next_delay()
                if backoff.failures == 1 or backoff.failures % 10 == 0:
                    log.warning("promoting scheduled jobs failed (%s); retrying in %.1fs",
                                type(exc).__name__, delay)
                await sleep_unless(stopping, delay)
                continue
            if backoff.failures:
                log.info("promoting scheduled jobs again after %d failed tries", backoff.failures)
                backoff.reset()
            self.promoted += count
            if count >= self.batch:
                continue  # more are due: take the next batch now
            await sleep_unless(stopping, self.interval * random.uniform(0.8, 1.2))


async def promote_due(pool: AsyncConnectionPool[Any], limit: int) -> int:
    """Promote up to ``limit`` due scheduled jobs in one statement; return how many."""
    async with pool.connection() as conn:
        cur = await conn.execute(query("promote_due"), {"limit": limit})
        row = await cur.fetchone()
    count = int(row[0]) if row else 0
    if count:
        log.debug("promoted %d scheduled jobs", count)
    return count


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        log.warning("%s=%r is not a number; using %g", name, value, default)
        return default
    if number <= 0:
        log.warning("%s must be positive; using %g", name, default)
        return default
    return number
