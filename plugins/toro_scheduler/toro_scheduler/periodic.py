"""The periodic enqueuer: a service in every worker process that enqueues schedule ticks.

Each process that has periodic workers loaded (``toro-core start -r module``) computes the
ticks of their schedules and, when a tick comes, tries to enqueue it. Exactly one process
succeeds per tick, whatever the number of processes, their clocks or their timing: the tick is
inserted into ``toro_schedule_ticks`` (primary key ``(schedule, tick_at)``) with
``ON CONFLICT DO NOTHING`` in the statement that inserts the job, and the job is inserted only
for a tick that statement claimed. Another process trying the same tick gets nothing back.

Catch-up: a process starts from the latest tick recorded for the schedule, so ticks that came
while no worker ran are enqueued on start, each as its own job with ``scheduled_at`` = the
tick, if they are at most ``schedule_catch_up`` seconds old; older ones are skipped and logged.
The same rule covers a database outage: ticks that could not be enqueued are enqueued when the
database is back, within the window. A schedule that has never ticked starts with its next tick.

Housekeeping (every minute): records the schedules in ``toro_schedules`` (for the CLI and the
monitor) and deletes ticks older than the catch-up window plus an hour, keeping each
schedule's latest.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING

import anyio

from toro_core import Job, SchemaMissing
from toro_core.plugin import TRANSIENT, Retry, Store, encode_args, fetch_all, utcnow
from toro_scheduler.schedules import Schedule, find_schedules
from toro_scheduler.sql import query
from toro_scheduler.triggers import ticks_between

if TYPE_CHECKING:
    from toro_core.plugin import ProcessContext

log = logging.getLogger("toro.scheduler")

#: A tick this late is still enqueued even with ``schedule_catch_up = 0`` (a busy moment).
GRACE = 2.0
#: Most ticks enqueued in one statement (a long catch-up takes several).
BATCH = 500
#: Skipped ticks are counted up to this many for the log line.
SKIP_COUNT_LIMIT = 1000
#: Seconds between housekeeping rounds.
HOUSEKEEPING_EVERY = 60.0
#: Ticks are kept this many seconds beyond their schedule's catch-up window.
RETENTION = 3600.0
#: Longest sleep between two looks at the clock (a wall-clock jump is noticed this soon).
MAX_SLEEP = 30.0

_ONE_MICROSECOND = timedelta(microseconds=1)
_RETRYABLE = (*TRANSIENT, SchemaMissing)


class PeriodicEnqueuer:
    """See the module docstring; :meth:`run` is the service."""

    def __init__(
        self, context: ProcessContext, schedules: Sequence[Schedule] | None = None
    ) -> None:
        self.context = context
        self.store = Store(context.pool)
        self.schedules: list[Schedule] = list(schedules) if schedules is not None else []
        self._given = schedules is not None
        #: Per schedule, the moment up to which its ticks have been dealt with.
        self.cursors: dict[str, datetime] = {}
        #: Ticks this process enqueued (other processes enqueue the rest).
        self.enqueued = 0

    async def run(self) -> None:
        if not self._given:
            self.schedules, errors = find_schedules(self.context.app)
            for error in errors:
                log.error("periodic schedule left out: %s", error)
        if not self.schedules:
            return
        log.info(
            "periodic schedules: %s", "; ".join(schedule.describe() for schedule in self.schedules)
        )
        stopping = self.context.stopping
        retry = Retry("enqueuing periodic jobs", log)
        next_housekeeping = 0.0
        while not stopping.is_set():
            try:
                if not self.cursors:
                    await self._load_cursors()
                if anyio.current_time() >= next_housekeeping:
                    await self._housekeeping()
                    next_housekeeping = anyio.current_time() + HOUSEKEEPING_EVERY
                now = utcnow()
                for schedule in self.schedules:
                    await self._enqueue_due(schedule, now)
            except _RETRYABLE as exc:
                # a missing table (not migrated yet) is waited out like an outage
                await retry.pause(exc, until=stopping)
                continue
            retry.succeeded()
            with anyio.move_on_after(self._seconds_to_next_tick(next_housekeeping)):
                await stopping.wait()

    # ------------------------------------------------------------------ ticks

    async def _enqueue_due(self, schedule: Schedule, now: datetime) -> None:
        """Enqueue the ticks of ``schedule`` up to ``now`` that are inside its window."""
        cursor = self.cursors[schedule.name]
        horizon = now - timedelta(seconds=max(schedule.catch_up, GRACE))
        if cursor < horizon:
            self._log_skipped(schedule, cursor, horizon)
            # A tick exactly at the horizon is inside the window.
            cursor = self.cursors[schedule.name] = horizon - _ONE_MICROSECOND
        pending = ticks_between(schedule.trigger, cursor, now)
        while batch := list(islice(pending, BATCH)):
            await self._enqueue_ticks(schedule, batch)
            self.cursors[schedule.name] = batch[-1]
        self.cursors[schedule.name] = max(self.cursors[schedule.name], now)

    async def _enqueue_ticks(self, schedule: Schedule, ticks: list[datetime]) -> list[Job]:
        """One transaction: claim ``ticks`` and enqueue a job for each tick claimed here (its
        ``scheduled_at`` is the tick), through the kernel's client on the same connection."""
        client = self.context.app.aclient
        jobs: list[Job] = []
        async with self.store.transaction() as conn:
            claimed = await fetch_all(
                conn,
                query("claim_ticks"),
                {
                    "schedule": schedule.name,
                    "ticks": ticks,
                    "enqueued_by": self.context.settings.identity,
                },
            )
            for tick in sorted(row["tick_at"] for row in claimed):
                properties = {"schedule:name": schedule.name, "schedule:tick": tick.isoformat()}
                job = await client.enqueue(
                    schedule.worker,
                    schedule.args,
                    connection=conn,
                    scheduled_at=tick,
                    properties=properties,
                    queue=schedule.queue,
                )
                jobs.append(job)
            if jobs:
                await conn.execute(
                    query("link_tick_jobs"),
                    {
                        "schedule": schedule.name,
                        "job_ids": [job.id for job in jobs],
                        "ticks": [job.scheduled_at for job in jobs],
                    },
                )
        if jobs:
            self.enqueued += len(jobs)
            log.debug(
                "schedule %s: enqueued %d tick(s) (jobs %s)",
                schedule.name,
                len(jobs),
                ", ".join(str(job.id) for job in jobs),
            )
        return jobs

    def _log_skipped(self, schedule: Schedule, cursor: datetime, horizon: datetime) -> None:
        skipped = _count(ticks_between(schedule.trigger, cursor, horizon - _ONE_MICROSECOND))
        count, first, last = skipped
        if not count or first is None or last is None:
            return
        if count >= SKIP_COUNT_LIMIT:
            amount, until = f"at least {count}", f"before {horizon.isoformat()}"
        else:
            amount, until = str(count), f"to {last.isoformat()}"
        log.warning(
            "schedule %s: skipped %s missed tick(s) from %s %s, older than its catch-up "
            "window of %gs",
            schedule.name,
            amount,
            first.isoformat(),
            until,
            schedule.catch_up,
        )

    def _seconds_to_next_tick(self, next_housekeeping: float) -> float:
        wake = min(s.trigger.next_after(self.cursors[s.name]) for s in self.schedules)
        seconds = (wake - utcnow()).total_seconds()
        until_housekeeping = next_housekeeping - anyio.current_time()
        return max(0.0, min(seconds, until_housekeeping, MAX_SLEEP))

    # ------------------------------------------------------------------ bookkeeping

    async def _load_cursors(self) -> None:
        """Start each schedule from its latest recorded tick, or from now if it has none."""
        names = [schedule.name for schedule in self.schedules]
        rows = await self.store.fetch_all(query("last_ticks"), {"names": names})
        latest = {row["name"]: row["last_tick"] for row in rows}
        now = utcnow()
        self.cursors = {name: latest.get(name) or now for name in names}

    async def _housekeeping(self) -> None:
        """Record the schedules as seen now; prune ticks nobody will claim again."""
        schedules = self.schedules
        now = utcnow()
        async with self.store.transaction() as conn:
            await conn.execute(
                query("register_schedules"),
                {
                    "names": [s.name for s in schedules],
                    "queues": [s.queue for s in schedules],
                    "kinds": [s.trigger.kind for s in schedules],
                    "expressions": [s.trigger.expression() for s in schedules],
                    "timezones": [s.trigger.timezone for s in schedules],
                    "catch_ups": [s.catch_up for s in schedules],
                    "args": [encode_args(s.args, owner=s.name) for s in schedules],
                    "seen_by": self.context.settings.identity,
                },
            )
            await conn.execute(
                query("prune_ticks"),
                {
                    "names": [s.name for s in schedules],
                    "before": [
                        now - timedelta(seconds=max(s.catch_up, GRACE) + RETENTION)
                        for s in schedules
                    ],
                },
            )


def _count(ticks: Iterator[datetime]) -> tuple[int, datetime | None, datetime | None]:
    """How many of ``ticks`` (up to the limit), the first and the last counted."""
    count, first, last = 0, None, None
    for tick in ticks:
        count += 1
        first = first or tick
        last = tick
        if count >= SKIP_COUNT_LIMIT:
            break
    return count, first, last
