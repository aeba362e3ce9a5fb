"""The pruner: deletes finished jobs older than their status's retention.

Every worker process runs one (:meth:`Pruner.run`); ``toro-core prune`` runs one pass
(:meth:`Pruner.prune`). What is deleted: jobs in a final status (complete, failed, cancelled,
a plugin's final status) whose ``finished_at`` is older than that status's retention
(:class:`~toro_core.retention.Retention`). Queued, scheduled, running and blocked jobs are never
deleted, however old: they are not final, and the statement names the statuses it may touch.

How, so that a prune of millions of rows never gets in the way of the workers:

* **Batches** of at most :data:`MAX_BATCH` jobs, one short transaction each, walking the index
  ``toro_jobs_finished`` oldest first from a keyset cursor ``(finished_at, id)``, so no batch
  walks the dead entries of the batches before it. The cursor of each status is kept between
  passes (new jobs always finish after it) and dropped every :data:`FULL_PASS_EVERY` seconds.
* **Bounded, shrinking batch**: a batch that takes longer than :data:`SLOW_BATCH` seconds halves
  the next one, one cut off by the statement timeout (:data:`STATEMENT_TIMEOUT`) quarters it,
  down to :data:`MIN_BATCH`; quick batches grow back. Rows are deleted after
  ``FOR UPDATE SKIP LOCKED``, so a prune never waits for a job someone is retrying.
* **Pauses** after each batch, as long as :data:`PAUSE_RATIO` times the batch took (at least
  50 ms), so the prune leaves most of the database's time to claims and outcomes.
* **One at a time across processes**: each batch takes a transaction-level advisory lock
  (``pg_try_advisory_xact_lock``), released by its commit; no session lock, no session
  setting, so it works behind PgBouncer in transaction mode. A process's pass that finds the
  lock taken ends (another process is pruning); ``toro-core prune`` waits its turn instead.
* **Logged**: what a pass deleted, per status, at INFO; progress every :data:`PROGRESS_EVERY`
  seconds during a long one.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping

import anyio

from toro_core.errors import StatementError
from toro_core.retention import format_duration
from toro_core.runtime.retry import TRANSIENT, Retry
from toro_core.store import CoreStore, PruneCursor

log = logging.getLogger("toro.prune")

#: Key of the transaction-level advisory lock each batch holds ("to" "prune").
LOCK_KEY = 0x746F_7072756E65
MAX_BATCH = 10_000
MIN_BATCH = 100
FIRST_BATCH = 1_000
#: A batch slower than this (seconds) halves the next; one faster than a quarter of it grows it.
SLOW_BATCH = 1.0
#: Seconds after which a batch's statement is cancelled (and the batch size quartered).
STATEMENT_TIMEOUT = 10.0
#: The pause after a batch, as a multiple of the time it took (within MIN_PAUSE and MAX_PAUSE).
PAUSE_RATIO = 1.0
MIN_PAUSE, MAX_PAUSE = 0.05, 2.0
#: Seconds between two passes of a worker process's pruner (shorter for a retention under
#: four times this: a quarter of it, at least a second).
EVERY = 60.0
#: Seconds after which a pass starts each status from its oldest job again, in case a job
#: reached a final status with an old finished_at (written by hand) behind the cursor.
FULL_PASS_EVERY = 3600.0
#: Seconds between progress lines of a long pass.
PROGRESS_EVERY = 10.0


class Pruner:
    """Prunes jobs older than ``horizons`` (``{status: seconds}``, see
    :meth:`~toro_core.retention.Retention.horizons`) through ``store``.

    ``wait_for_lock``: when another process holds the prune lock, wait and try again (the
    command line) rather than end the pass (a worker process's service).
    """

    def __init__(
        self,
        store: CoreStore,
        horizons: Mapping[str, float],
        *,
        stopping: anyio.Event | None = None,
        wait_for_lock: bool = False,
    ) -> None:
        self.store = store
        self.horizons = dict(horizons)
        self.stopping = stopping or anyio.Event()
        self.wait_for_lock = wait_for_lock
        #: Rows per batch now (it adapts, see the module docstring).
        self.batch = FIRST_BATCH
        #: Jobs deleted by this pruner so far, per status.
        self.deleted: dict[str, int] = dict.fromkeys(self.horizons, 0)
        self._cursors: dict[str, PruneCursor] = {}
        self._cursors_since = time.monotonic()
        self._progress_at = 0.0

    @property
    def interval(self) -> float:
        """Seconds between two passes of :meth:`run`."""
        shortest = min(self.horizons.values(), default=EVERY * 4)
        return min(EVERY, max(1.0, shortest / 4))

    async def run(self) -> None:
        """The worker process's service: a pass every :attr:`interval` seconds (with jitter,
        the first one soon after start) until ``stopping`` is set. Outages are waited out; a
        refused statement (a role without DELETE on toro_jobs, say) is logged and tried again
        ten intervals later, and never stops the process."""
        if not self.horizons:
            return
        log.info(
            "pruning finished jobs older than: %s",
            ", ".join(f"{s} {format_duration(k)}" for s, k in self.horizons.items()),
        )
        retry = Retry("pruning finished jobs", log)
        delay = random.uniform(0.1, min(self.interval, 10.0))
        while not self.stopping.is_set():
            with anyio.move_on_after(delay):
                await self.stopping.wait()
            if self.stopping.is_set():
                return
            try:
                await self.prune()
            except TRANSIENT as exc:
                delay = retry.failed(exc)
                continue
            except StatementError as exc:
                log.error("pruning finished jobs was refused (%s); trying again later", exc)
                delay = self.interval * 10
                continue
            retry.succeeded()
            delay = self.interval * random.uniform(0.8, 1.2)

    async def prune(self) -> dict[str, int]:
        """One pass: every status, batch after batch, until none of its jobs is older than its
        retention (or the lock is elsewhere, or ``stopping`` is set). Returns the jobs
        deleted per status and logs them."""
        if time.monotonic() - self._cursors_since > FULL_PASS_EVERY:
            self._cursors.clear()
            self._cursors_since = time.monotonic()
        deleted: dict[str, int] = {}
        self._progress_at = time.monotonic() + PROGRESS_EVERY
        try:
            for status, keep in self.horizons.items():
                deleted[status] = 0
                await self._prune_status(status, keep, deleted)
                if self.stopping.is_set():
                    break
        finally:
            if any(deleted.values()):
                log.info(
                    "pruned %s jobs: %s",
                    f"{sum(deleted.values()):,}",
                    ", ".join(
                        f"{n:,} {s} (finished over {format_duration(self.horizons[s])} ago)"
                        for s, n in deleted.items()
                        if n
                    ),
                )
        return deleted

    async def _prune_status(self, status: str, keep: float, deleted: dict[str, int]) -> None:
        while not self.stopping.is_set():
            limit = self.batch
            started = time.monotonic()
            try:
                batch = await self.store.prune_batch(
                    status=status,
                    keep=keep,
                    after=self._cursors.get(status),
                    limit=limit,
                    lock=LOCK_KEY,
                    timeout=STATEMENT_TIMEOUT,
                )
            except TRANSIENT:
                # a statement timeout or an outage: smaller batches from now on
                self.batch = max(MIN_BATCH, self.batch // 4)
                raise
            took = time.monotonic() - started
            if not batch.locked:
                if not self.wait_for_lock:
                    return  # another process is pruning: its pass does the work
                await self._sleep(0.5)
                continue
            deleted[status] += batch.deleted
            self.deleted[status] += batch.deleted
            if batch.cursor is not None:
                self._cursors[status] = batch.cursor
            self._adapt(took)
            self._progress(deleted)
            if batch.deleted < limit:
                return  # nothing older is left
            await self._sleep(min(MAX_PAUSE, max(MIN_PAUSE, took * PAUSE_RATIO)))

    def _adapt(self, took: float) -> None:
        if took > SLOW_BATCH:
            self.batch = max(MIN_BATCH, self.batch // 2)
        elif took < SLOW_BATCH / 4:
            self.batch = min(MAX_BATCH, self.batch * 2)

    def _progress(self, deleted: dict[str, int]) -> None:
        now = time.monotonic()
        if now >= self._progress_at:
            self._progress_at = now + PROGRESS_EVERY
            log.info(
                "pruning: %s so far (%d jobs per batch)",
                ", ".join(f"{n:,} {s}" for s, n in deleted.items()),
                self.batch,
            )

    async def _sleep(self, seconds: float) -> None:
        with anyio.move_on_after(seconds):
            await self.stopping.wait()

    async def count(self) -> dict[str, int]:
        """What a pass would delete now, per status (a dry run: nothing is changed)."""
        return {
            status: await self.store.count_prunable(status, keep)
            for status, keep in self.horizons.items()
        }
