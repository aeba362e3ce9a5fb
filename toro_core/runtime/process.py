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
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio
import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from toro_core.errors import DatabaseUnavailable, SchemaMissing
from toro_core.job import Job
from toro_core.runtime.backoff import TRANSIENT, Backoff
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


class WorkerProcess:
    """See the module docstring. ``run()`` returns the process exit code."""

    def __init__(self, app: Toro, settings: WorkerSettings) -> None:
        self.app = app
        self.settings = settings
        self.executor = Executor(app, settings.concurrency)
        self.stopping = anyio.Event()
        self.force = anyio.Event()
        self.running: dict[int, str] = {}  # job id -> holder id it was claimed under
        self.claimed = 0
        self._wake = anyio.Event()
        self._idle = anyio.Event()
        self._queue_set = frozenset(settings.queues)
        self._cancelled: list[tuple[int, str]] = []
        self._inbox: asyncio.Queue[tuple[Job, str]] = asyncio.Queue()
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
            name="toro-worker",
        )
        await pool.open(wait=True, timeout=30)
        self.pool = pool
        try:
            self.registry = ProcessRegistry(pool, self.settings)
            self.writer = OutcomeWriter(
                pool,
                flush_size=self.settings.flush_size,
                flush_interval=self.settings.flush_interval,
                limit=self.settings.max_pending_outcomes,
            )
            await self.registry.register()
            await self.registry.recover()
            await self._run_tasks(pool)
        finally:
            await pool.close()
        log.info(
            "process %s stopped: %d jobs claimed, %d outcomes written, %d refused",
            self.settings.identity, self.claimed, self.writer.written if self.writer else 0,
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
        context = ServiceContext(
            app=self.app, settings=self.settings, pool=pool, stopping=self.stopping,
            process_id=self.registry.process_id,
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
                    self.settings.identity, ",".join(self.settings.queues),
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
        while not self.stopping.is_set():
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
                delay = backoff.next_delay()
                if backoff.failures == 1 or backoff.failures % 10 == 0:
                    log.warning("claiming failed (%s); retrying in %.1fs", type(exc).__name__, delay)
                await self._sleep_until_woken(delay)
                continue
            if after == 0:
                last_full_scan = now
            owner = self.registry.process_id
            for job in claimed:
                self.running[job.id] = owner
                self._inbox.put_nowait((job, owner))
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
            job, owner = await self._inbox.get()
            await self._run_job(job, owner)

    async def _run_job(self, job: Job, owner: str) -> None:
        assert self.writer
        try:
            execution = await self.executor.run(job)
        except anyio.get_cancelled_exc_class():
            self._cancelled.append((job.id, owner))
            raise
        except BaseException:  # never lose a job to a bug in a plugin hook
            log.exception("job %s: the runtime failed around it; it stays for recovery", job.id)
            raise
        finally:
            del self.running[job.id]
            self._wake.set()
            if not self.running:
                self._idle.set()
        self.writer.add(to_pending(execution, owner))

    async def _drain(self, jobs: anyio.abc.TaskGroup) -> None:
        """Wait for running jobs up to ``shutdown_timeout`` (or a second signal), then cancel."""
        if self.running:
            log.info(
                "waiting up to %.0fs for %d running jobs", self.settings.shutdown_timeout,
                len(self.running),
            )
            self._idle = anyio.Event()
            with anyio.move_on_after(self.settings.shutdown_timeout):
                async with anyio.create_task_group() as waiters:

                    async def first(event: anyio.Event) -> None:
                        await event.wait()
                        waiters.cancel_scope.cancel()

                    waiters.start_soon(first, self._idle)
                    waiters.start_soon(first, self.force)
        if self.running:
            log.warning("cancelling %d jobs that did not finish; they go back to queued", len(self.running))
        jobs.cancel_scope.cancel()

    async def _finish(self) -> None:
        """Write outcomes, requeue cancelled jobs and leave the registry."""
        assert self.writer and self.registry and self.pool
        with anyio.move_on_after(max(5.0, self.settings.shutdown_timeout)) as scope:
            await self.writer.wait_drained()
        if scope.cancelled_caught:
            log.error(
                "%d outcomes could not be written; those jobs will be recovered and run again",
                self.writer.pending,
            )
        by_owner: dict[str, list[int]] = {}
        for job_id, owner in self._cancelled:
            by_owner.setdefault(owner, []).append(job_id)
        with anyio.move_on_after(10):
            backoff = Backoff()
            for owner, ids in by_owner.items():
                while True:
                    try:
                        async with self.pool.connection() as conn:
                            cur = await conn.execute(
                                query("requeue_jobs"),
                                {"ids": ids, "owner": owner, "started_by": self.settings.identity},
                            )
                            requeued = len(await cur.fetchall())
                        log.info("requeued %d of %d cancelled jobs", requeued, len(ids))
                        break
                    except TRANSIENT:
                        await anyio.sleep(backoff.next_delay())
            try:
                await self.registry.deregister()
            except TRANSIENT as exc:
                log.warning("could not leave the process registry (%s)", type(exc).__name__)

    # ------------------------------------------------------------------ background tasks

    async def _listen(self) -> None:
        """LISTEN for inserts; reconnect through outages (polling covers the gap)."""
        url = self.app.database_url
        backoff = Backoff()
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=5)
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
                        signal.Signals(signum).name, self.settings.shutdown_timeout,
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


def run_worker(app: Toro, settings: WorkerSettings) -> int:
    """Run a worker process until it is stopped; returns the exit code."""
    from toro_core.app import set_default_app

    previous = set_default_app(app)
    try:
        return anyio.run(WorkerProcess(app, settings).run, backend="asyncio")
    finally:
        set_default_app(previous)
