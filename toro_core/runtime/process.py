"""One worker process: claims jobs, runs up to ``concurrency`` of them at once, and stops well.

Tasks inside the process:

* the claim loop, which claims as many queued jobs as there are free slots (one statement per
  batch) whenever a slot frees, a notification arrives or the poll interval passes;
* one task per running job (async ``perform`` runs in the loop, sync ``perform`` in a thread);
* the outcome writer (batched, fenced writes);
* the heartbeat, which also recovers the jobs of dead processes;
* the LISTEN connection; plugin services; the signal handler.

SIGTERM or SIGINT stops claiming, lets running jobs finish for ``shutdown_timeout`` seconds,
cancels the rest and puts them back to queued; a second signal skips the wait.

Every claimed attempt carries the registry id it was claimed under (with the attempt number,
its fencing token). When the heartbeat finds the process was declared dead, the attempts held
under the old id are stopped (others run those jobs now) and any outcome still to be written
for them is refused by the database. Every ``dead_after`` seconds, and after a claim whose
answer was lost, the claim loop also hands back jobs the database says this process holds
but it does not know of.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio
import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from toro_core.errors import DatabaseUnavailable, SchemaMissing
from toro_core.job import Job
from toro_core.runtime.backoff import TRANSIENT, Backoff, until_done
from toro_core.runtime.context import ServiceContext
from toro_core.runtime.executor import Executor
from toro_core.runtime.outcomes import OutcomeWriter, to_pending
from toro_core.runtime.registry import ProcessRegistry
from toro_core.settings import WorkerSettings, describe_conninfo
from toro_core.sql import query

if TYPE_CHECKING:
    from toro_core.app import Toro

log = logging.getLogger("toro.worker")
CHANNEL = "toro_jobs"
#: Seconds the pool retries one lost connection before a new request starts over.
RECONNECT_TIMEOUT = 10.0
#: anyio's name for the threads sync ``perform`` runs in.
JOB_THREAD_NAME = "AnyIO worker thread"


@dataclasses.dataclass(eq=False, slots=True)
class Claim:
    """One claimed attempt: the job and the registry id it was claimed under."""

    job: Job
    owner: str
    #: The attempt's own cancel scope while it runs.
    scope: anyio.CancelScope | None = None
    #: Stopped because the process was declared dead and others run the job now.
    abandoned: bool = False


class WorkerProcess:
    """See the module docstring. ``run()`` returns the process exit code."""

    def __init__(self, app: Toro, settings: WorkerSettings) -> None:
        self.app = app
        self.settings = settings
        self.executor = Executor(app, settings.concurrency)
        self.stopping = anyio.Event()
        self.force = anyio.Event()
        self.running: set[Claim] = set()
        self.claimed = 0
        self._wake = anyio.Event()
        self._idle = anyio.Event()
        self._queue_set = frozenset(settings.queues)
        self._cancelled: list[Claim] = []
        self._inbox: asyncio.Queue[Claim] = asyncio.Queue()
        self._unsure = False  # a claim failed: it may have committed without us knowing
        self.pool: AsyncConnectionPool[Any] | None = None
        self.registry: ProcessRegistry | None = None
        self.writer: OutcomeWriter | None = None
        self.ready = anyio.Event()

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> int:
        url = self.app.database_url
        await self._check_database(url)
        pool = AsyncConnectionPool(
            url,
            min_size=3,
            max_size=8,
            kwargs={"autocommit": True},
            configure=None if self.settings.synchronous_commit else _relaxed_commit,
            open=False,
            timeout=10,
            # The pool's own reconnection backs off up to minutes in a long outage; giving up
            # after a few seconds makes the next request start afresh, so the process is back
            # within seconds of the database.
            reconnect_timeout=RECONNECT_TIMEOUT,
            name="toro-worker",
        )
        await pool.open(wait=True, timeout=30)
        self.pool = pool
        try:
            self.registry = ProcessRegistry(pool, self.settings, on_declared_dead=self._abandon)
            self.writer = OutcomeWriter(
                pool,
                flush_size=self.settings.flush_size,
                flush_interval=self.settings.flush_interval,
                limit=self.settings.max_pending_outcomes,
            )
            await until_done(self.registry.register, what="registering the process", log=log)
            await self._run_tasks(pool)
        finally:
            await pool.close()
        log.info(
            "process %s stopped: %d jobs claimed, %d outcomes written, %d refused",
            self.settings.identity,
            self.claimed,
            self.writer.written if self.writer else 0,
            self.writer.refused if self.writer else 0,
        )
        return 0

    async def _check_database(self, url: str) -> None:
        try:
            conn = await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise DatabaseUnavailable(
                f"cannot connect to PostgreSQL at {describe_conninfo(url)}: "
                f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
            ) from exc
        async with conn:
            row = await (await conn.execute(query("schema_ready"))).fetchone()
            if not (row and row[0]):
                raise SchemaMissing(
                    f"the toro tables do not exist in {describe_conninfo(url)}: "
                    "run `toro-core migrate` first"
                )

    async def _run_tasks(self, pool: AsyncConnectionPool[Any]) -> None:
        assert self.registry and self.writer
        registry = self.registry
        context = ServiceContext(
            app=self.app,
            settings=self.settings,
            pool=pool,
            stopping=self.stopping,
            current_id=lambda: registry.process_id,
        )
        async with anyio.create_task_group() as background:
            background.start_soon(self.registry.run)
            background.start_soon(self.writer.run)
            background.start_soon(self._listen)
            background.start_soon(self._signals)
            for service in self._services(context):
                background.start_soon(self._supervise, service)
            async with anyio.create_task_group() as jobs:
                for _ in range(self.settings.concurrency):
                    jobs.start_soon(self._slot)
                self.ready.set()
                log.info(
                    "worker %s running: queues %s, concurrency %d",
                    self.settings.identity,
                    ",".join(self.settings.queues),
                    self.settings.concurrency,
                )
                await self._claim_loop(jobs)
                await self._drain(jobs)
            await self._finish()
            background.cancel_scope.cancel()

    def stop(self) -> None:
        """Begin a graceful stop (what SIGTERM does)."""
        self.stopping.set()
        self._wake.set()

    # ------------------------------------------------------------------ claiming

    async def _claim_loop(self, jobs: anyio.abc.TaskGroup) -> None:
        assert self.writer and self.registry
        settings = self.settings
        after = 0
        last_full_scan = 0.0
        backoff = Backoff()
        half = max(1, min(settings.concurrency, settings.batch_size) // 2)
        next_check = time.monotonic() + settings.dead_after
        while not self.stopping.is_set():
            if self._unsure or time.monotonic() >= next_check:
                try:
                    await self._release_unknown()
                except TRANSIENT:
                    await self._sleep_until_woken(backoff.next_delay())
                    continue
                next_check = time.monotonic() + settings.dead_after
            free = settings.concurrency - len(self.running)
            if free <= 0 or self.writer.over_limit:
                await self._sleep_until_woken(settings.poll_interval)
                continue
            if free < half and self.running:
                # A few slots are free while others are still busy: give them a moment to
                # free too, so one statement claims a batch instead of one job at a time.
                await self._gather_free_slots(half)
                free = settings.concurrency - len(self.running)
            now = time.monotonic()
            if now - last_full_scan >= settings.poll_interval:
                after = 0
            limit = min(free, settings.batch_size)
            try:
                claimed = await self._claim(limit, after)
                backoff.reset()
            except TRANSIENT as exc:
                self._unsure = True
                delay = backoff.next_delay()
                if backoff.failures == 1 or backoff.failures % 10 == 0:
                    log.warning(
                        "claiming failed (%s); retrying in %.1fs", type(exc).__name__, delay
                    )
                await self._sleep_until_woken(delay)
                continue
            if after == 0:
                last_full_scan = now
            owner = self.registry.process_id
            for job in claimed:
                claim = Claim(job, owner)
                self.running.add(claim)
                self._inbox.put_nowait(claim)
            self.claimed += len(claimed)
            if claimed:
                after = max(after, claimed[-1].id)
            if len(claimed) < limit:
                if after:
                    after = 0  # look again from the start of each queue before sleeping
                    continue
                await self._sleep_until_woken(settings.poll_interval)

    async def _claim(self, limit: int, after: int) -> list[Job]:
        assert self.pool and self.registry
        queues = self.settings.queues
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                query("claim_jobs_one_queue" if len(queues) == 1 else "claim_jobs"),
                {
                    "queue": queues[0],
                    "queues": list(queues),
                    "after": after,
                    "limit": limit,
                    "owner": self.registry.process_id,
                    "started_by": self.settings.identity,
                },
            )
            rows = await cur.fetchall()
        jobs = [Job.from_row(row) for row in rows]
        jobs.sort(key=lambda job: job.id)
        return jobs

    async def _release_unknown(self) -> None:
        """Requeue jobs held under this process's id that it is not running (see module doc)."""
        assert self.pool and self.registry and self.writer
        owner = self.registry.process_id
        known = [c.job.id for c in self.running if c.owner == owner]
        known.extend(self.writer.pending_ids(owner))
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                query("release_unknown_jobs"), {"owner": owner, "known": known}
            )
            released = [row[0] for row in await cur.fetchall()]
        self._unsure = False
        if released:
            log.warning(
                "jobs %s were held under this process's id but not running here (a claim whose "
                "answer was lost); they are queued again",
                _some(released),
            )

    async def _gather_free_slots(self, wanted: int, patience: float = 0.002) -> None:
        """Wait up to ``patience`` seconds for ``wanted`` free slots (or any stop)."""
        with anyio.move_on_after(patience):
            while (
                self.settings.concurrency - len(self.running) < wanted
                and self.running
                and not self.stopping.is_set()
            ):
                await self._wake.wait()
                self._wake = anyio.Event()

    async def _sleep_until_woken(self, timeout: float) -> None:
        with anyio.move_on_after(timeout):
            await self._wake.wait()
        self._wake = anyio.Event()

    # ------------------------------------------------------------------ running

    async def _slot(self) -> None:
        """One of ``concurrency`` runners: takes claimed jobs one after another."""
        while True:
            await self._run_job(await self._inbox.get())

    async def _run_job(self, claim: Claim) -> None:
        assert self.writer
        job = claim.job
        execution = None
        try:
            if not claim.abandoned:
                with anyio.CancelScope() as claim.scope:
                    execution = await self.executor.run(job, claim.owner)
        except anyio.get_cancelled_exc_class():
            self._cancelled.append(claim)
            raise
        except BaseException:  # never lose a job to a bug in a plugin hook
            log.exception("job %s: the runtime failed around it; it stays for recovery", job.id)
            raise
        finally:
            self.running.discard(claim)
            self._wake.set()
            if not self.running:
                self._idle.set()
        if execution is not None:
            self.writer.add(to_pending(execution, claim.owner))

    def _abandon(self, old_owner: str) -> None:
        """Stop the attempts claimed under ``old_owner``: other processes run those jobs now."""
        stale = [c for c in self.running if c.owner == old_owner]
        for claim in stale:
            claim.abandoned = True
            if claim.scope is not None:
                claim.scope.cancel()
        if stale:
            log.warning(
                "stopping %d attempts claimed under %s (jobs %s): other processes run them now",
                len(stale),
                old_owner,
                _some(sorted(c.job.id for c in stale)),
            )

    async def _drain(self, jobs: anyio.abc.TaskGroup) -> None:
        """Wait for running jobs up to ``shutdown_timeout`` (or a second signal), then cancel."""
        if self.running:
            log.info(
                "waiting up to %.0fs for %d running jobs",
                self.settings.shutdown_timeout,
                len(self.running),
            )
            self._idle = anyio.Event()
            with anyio.move_on_after(self.settings.shutdown_timeout):
                await _first_of(self._idle.wait, self.force.wait)
        if self.running:
            log.warning(
                "cancelling %d jobs that did not finish; they go back to queued",
                len(self.running),
            )
        jobs.cancel_scope.cancel()

    async def _finish(self) -> None:
        """Write outcomes, requeue cancelled jobs and leave the registry.

        A second signal cuts the wait for outcomes short (those jobs are recovered and run
        again); requeueing and leaving the registry are still tried, for a few seconds each.
        """
        assert self.writer and self.registry and self.pool
        with anyio.move_on_after(max(5.0, self.settings.shutdown_timeout)) as scope:
            await _first_of(self.writer.wait_drained, self.force.wait)
        if self.writer.pending:
            log.error(
                "%d outcomes could not be written%s; those jobs will be recovered and run again",
                self.writer.pending,
                " in time" if scope.cancelled_caught else "",
            )
        by_owner: dict[str, list[int]] = {}
        # Cancelled attempts, and claims no slot had started yet.
        for claim in [*self._cancelled, *self.running]:
            if not claim.abandoned:
                by_owner.setdefault(claim.owner, []).append(claim.job.id)
        for owner, ids in by_owner.items():
            with anyio.move_on_after(10):
                requeued = await until_done(
                    functools.partial(self._requeue, owner, ids),
                    what="requeueing cancelled jobs",
                    log=log,
                )
                log.info("requeued %d of %d cancelled jobs", requeued, len(ids))
        with anyio.move_on_after(5) as scope:
            try:
                await self.registry.deregister()
            except TRANSIENT as exc:
                log.warning("could not leave the process registry (%s)", type(exc).__name__)
        if scope.cancelled_caught:
            log.warning("could not leave the process registry in time")

    async def _requeue(self, owner: str, ids: list[int]) -> int:
        assert self.pool
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                query("requeue_jobs"),
                {"ids": ids, "owner": owner, "started_by": self.settings.identity},
            )
            return len(await cur.fetchall())

    # ------------------------------------------------------------------ background tasks

    async def _listen(self) -> None:
        """LISTEN for inserts; reconnect through outages (polling covers the gap)."""
        url = self.app.database_url
        backoff = Backoff()
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    url, autocommit=True, connect_timeout=5
                )
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    backoff.reset()
                    self._wake.set()
                    async for notification in conn.notifies():
                        if notification.payload in self._queue_set:
                            self._wake.set()
            except TRANSIENT as exc:
                delay = backoff.next_delay()
                log.debug("listen connection lost (%s); reconnecting in %.1fs", exc, delay)
                await anyio.sleep(delay)

    async def _signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for signum in signals:
                if not self.stopping.is_set():
                    log.info(
                        "%s: stopping gracefully (up to %.0fs); send it again to stop now",
                        signal.Signals(signum).name,
                        self.settings.shutdown_timeout,
                    )
                    self.stop()
                else:
                    log.warning("%s again: stopping now", signal.Signals(signum).name)
                    self.force.set()

    def _services(self, context: ServiceContext) -> list[Callable[[], Awaitable[Any]]]:
        services: list[Callable[[], Awaitable[Any]]] = []
        for result in self.app.pm.hook.worker_services(context=context):
            services.extend(result or ())
        return services

    async def _supervise(self, service: Callable[[], Awaitable[Any]]) -> None:
        """Run a plugin service; restart it after a crash, with backoff."""
        backoff = Backoff(cap=30)
        name = getattr(service, "__qualname__", repr(service))
        while not self.stopping.is_set():
            try:
                await service()
                return
            except Exception:
                delay = backoff.next_delay()
                log.exception("service %s failed; restarting in %.1fs", name, delay)
                await anyio.sleep(delay)


async def _relaxed_commit(conn: psycopg.AsyncConnection[Any]) -> None:
    """Claims and outcomes commit without waiting for the WAL flush.

    Enqueues are not affected (they use other connections). A database crash can forget the
    last fraction of a second of claims and outcomes; those jobs are then queued again or
    recovered from their holder, and run again: at least once, never zero.
    """
    await conn.execute("SET synchronous_commit = off")


async def _first_of(*waits: Callable[[], Awaitable[Any]]) -> None:
    """Return as soon as any of the awaitables returns."""
    async with anyio.create_task_group() as group:

        async def one(wait: Callable[[], Awaitable[Any]]) -> None:
            await wait()
            group.cancel_scope.cancel()

        for wait in waits:
            group.start_soon(one, wait)


def _some(ids: list[int], shown: int = 20) -> str:
    """A list of job ids for a log line, cut after ``shown``."""
    text = ", ".join(str(i) for i in ids[:shown])
    return text + (f" and {len(ids) - shown} more" if len(ids) > shown else "")


def run_worker(app: Toro, settings: WorkerSettings) -> int:
    """Run a worker process until it is stopped; returns the exit code."""
    from toro_core.app import set_default_app

    previous = set_default_app(app)
    try:
        code = anyio.run(WorkerProcess(app, settings).run, backend="asyncio")
    finally:
        set_default_app(previous)
    _exit_past_abandoned_threads(code)
    return code


def _exit_past_abandoned_threads(code: int) -> None:
    """End the process now if sync jobs that were cancelled or timed out still run.

    Python cannot stop a thread, and at exit it would wait for each of them to return. Their
    attempts are over (outcomes written, cancelled jobs requeued), so nothing is lost by not
    waiting.
    """

    def job_threads() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == JOB_THREAD_NAME and t.is_alive()]

    deadline = time.monotonic() + 0.5  # idle ones are on their way out
    for thread in job_threads():
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = job_threads()
    if stuck:
        log.warning("%d abandoned job threads are still running; exiting without them", len(stuck))
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
