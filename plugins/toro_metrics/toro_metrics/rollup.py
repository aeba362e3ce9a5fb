"""The per-minute rollup: attempts finished per minute, queue and status (``toro_metrics_minutes``).

Each worker process counts in memory the outcomes it wrote (:meth:`Rollup.add`, called by the
``outcomes_written`` hook once per batch the database accepted: an outcome refused because
another process took its job over is not counted twice) and a service writes the counts every
:data:`FLUSH_INTERVAL` seconds in one upsert (:class:`RollupWriter`), and once more when the
process stops. The minute is the one of the job's ``finished_at`` as the kernel writes it (the
database's start time plus the measured duration), so the rollup and the table agree. Through an
outage the counts wait in memory and are written when the database is back; a process killed
with ``-9`` loses at most its last few seconds of counts (the jobs themselves are recovered and
run again, and counted then).

The rows outlive the jobs: pruning ``toro_jobs`` does not touch them. Rows older than
:data:`KEEP_DAYS` days are deleted by the writers, once an hour.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import anyio

from toro_core import SchemaMissing, StatementError
from toro_core.plugin import TRANSIENT, Retry, Store, load_queries
from toro_metrics.buckets import WAIT_BOUNDS, Buckets

if TYPE_CHECKING:
    from collections.abc import Iterable

    from toro_core import WrittenOutcome

log = logging.getLogger("toro.metrics")
#: Seconds between two writes of a process's counts.
FLUSH_INTERVAL = 5.0
#: Days of rollup rows kept.
KEEP_DAYS = 8
#: Seconds between two deletions of old rows.
PRUNE_EVERY = 3600.0
#: Distinct queues counted under their own name; further ones are counted as ``_other``.
MAX_QUEUES = 200
OTHER = "_other"


def queries() -> dict[str, str]:
    return load_queries("toro_metrics")


@dataclasses.dataclass(slots=True)
class Cell:
    """The counts of one (minute, queue, status)."""

    jobs: int = 0
    duration: float = 0.0
    wait: Buckets = dataclasses.field(default_factory=lambda: Buckets(WAIT_BOUNDS))

    def merge(self, other: Cell) -> None:
        self.jobs += other.jobs
        self.duration += other.duration
        self.wait.total += other.wait.total
        for index, count in enumerate(other.wait.counts):
            self.wait.counts[index] += count


Key = tuple[int, str, str]  # (minute number since the epoch, queue, status)


class Rollup:
    """Counts waiting to be written; see the module docstring."""

    def __init__(self, max_queues: int = MAX_QUEUES) -> None:
        self.cells: dict[Key, Cell] = {}
        self.max_queues = max_queues
        self._queues: set[str] = set()
        # the last start read as epoch seconds: the jobs of one claim share their start (the
        # claim's transaction time), and reading an aware datetime's timestamp costs more than
        # comparing two
        self._started: datetime | None = None
        self._start = 0.0

    def add(self, outcomes: Iterable[WrittenOutcome]) -> None:
        """Count a batch of written outcomes (what the ``outcomes_written`` hook hands over):
        one loop per batch, no call per job."""
        cells = self.cells
        queues = self._queues
        for job, status, duration in outcomes:
            started = job.started_at
            if started is None:
                continue
            if started != self._started:
                self._started, self._start = started, started.timestamp()
            queue = job.queue
            if queue not in queues:
                if len(queues) >= self.max_queues:
                    queue = OTHER
                else:
                    queues.add(queue)
            key = (int((self._start + duration) // 60), queue, status)
            cell = cells.get(key)
            if cell is None:
                cell = cells[key] = Cell()
            cell.jobs += 1
            cell.duration += duration
            wait = (started - (job.scheduled_at or job.created_at)).total_seconds()
            cell.wait.observe(wait if wait > 0.0 else 0.0)

    def take(self) -> dict[Key, Cell]:
        """Everything counted so far (and forget it)."""
        cells, self.cells = self.cells, {}
        return cells

    def put_back(self, cells: dict[Key, Cell]) -> None:
        """Counts that could not be written, to be written with the next ones."""
        for key, cell in cells.items():
            current = self.cells.get(key)
            if current is None:
                self.cells[key] = cell
            else:
                current.merge(cell)


def parameters(cells: dict[Key, Cell]) -> dict[str, list[object]]:
    """The arrays of ``add_minutes``, in key order."""
    keys = sorted(cells)
    return {
        "minutes": [datetime.fromtimestamp(minute * 60, UTC) for minute, _, _ in keys],
        "queues": [queue for _, queue, _ in keys],
        "statuses": [status for _, _, status in keys],
        "jobs": [cells[key].jobs for key in keys],
        "durations": [cells[key].duration for key in keys],
        "wait_sums": [cells[key].wait.total for key in keys],
        "wait_counts": ["{" + ",".join(map(str, cells[key].wait.counts)) + "}" for key in keys],
    }


class RollupWriter:
    """Writes a process's :class:`Rollup` to the table; :meth:`run` is the service's loop."""

    def __init__(self, rollup: Rollup, store: Store) -> None:
        self.rollup = rollup
        self.store = store
        self.retry = Retry("writing the metrics rollup", log)
        self.disabled = False
        self._next_prune = 0.0

    async def run(self) -> None:
        """Write every :data:`FLUSH_INTERVAL` seconds until cancelled; on cancellation write
        what is left (a few seconds at most)."""
        try:
            while True:
                await anyio.sleep(FLUSH_INTERVAL)
                await self.flush()
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                await self.flush()

    async def flush(self) -> bool:
        """Write the counts; ``False`` when they could not be (kept for the next try)."""
        if self.disabled:
            self.rollup.take()
            return False
        cells = self.rollup.take()
        try:
            if cells:
                await self.store.execute(queries()["add_minutes"], parameters(cells))
            if time.monotonic() >= self._next_prune:
                await self.store.execute(queries()["prune_minutes"], {"keep_days": KEEP_DAYS})
                self._next_prune = time.monotonic() + PRUNE_EVERY
        except TRANSIENT as exc:
            self.rollup.put_back(cells)
            self.retry.failed(exc)
            return False
        except (SchemaMissing, StatementError) as exc:
            self.disabled = True
            log.error(
                "the metrics rollup cannot be written (%s); the monitor's Overview will miss "
                "this process's jobs: run `toro-core migrate` and restart it",
                exc,
            )
            return False
        self.retry.succeeded()
        return True
