"""One worker process: its parts, started together and stopped in order.

The parts, each in its own module:

* :mod:`.claimer`: claims as many queued jobs as there are free slots, one statement a batch;
* :mod:`.slots`: ``concurrency`` runners, each running claimed jobs through the
  :mod:`.executor` (async ``perform`` on the loop, sync ``perform`` in a thread);
* :mod:`.outcomes`: writes finished attempts back in batches, fenced;
* :mod:`.registry`: registration, heartbeats and recovery of dead processes;
* :mod:`.listener`: LISTEN for new jobs and cancel requests (none behind PgBouncer in
  transaction mode without a listen URL: polls find them); :mod:`.cancels`: stops the
  attempts someone asked to cancel; :mod:`.promoter`: due scheduled jobs to queued;
* :mod:`.pruner`: deletes finished jobs older than their retention (one batch at a time
  across all processes);
* :mod:`.services`: the plugins' ``worker_services``; :mod:`.signals`: SIGTERM and SIGINT
  (only for a process of its own; an embedded worker leaves signals to its application).

Stopping (:meth:`WorkerProcess.stop`, or the first signal) stops claiming, lets running jobs
finish for ``shutdown_timeout`` seconds, cancels the rest and puts them back to queued, writes
every outcome and leaves the registry. :meth:`WorkerProcess.stop_now` (a second signal) skips
the waiting.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import psycopg
from psycopg_pool import AsyncConnectionPool

from toro_core.errors import SchemaMissing
from toro_core.runtime import services
from toro_core.runtime.cancels import CancelWatcher
from toro_core.runtime.claimer import Claimer
from toro_core.runtime.context import ProcessContext
from toro_core.runtime.executor import Executor
from toro_core.runtime.listener import Listener, listener_for
from toro_core.runtime.outcomes import OutcomeWriter, written_observer
from toro_core.runtime.promoter import Promoter
from toro_core.runtime.pruner import Pruner
from toro_core.runtime.registry import ProcessRegistry
from toro_core.runtime.retry import TRANSIENT, until_done
from toro_core.runtime.signals import handle_signals
from toro_core.runtime.slots import Slots
from toro_core.runtime.stats import ProcessStats
from toro_core.runtime.summary import Summary
from toro_core.runtime.waker import Waker
from toro_core.store import CoreStore, describe_conninfo

if TYPE_CHECKING:
    from toro_core.app import Toro
    from toro_core.connections import Connections
    from toro_core.settings import WorkerSettings

log = logging.getLogger("toro.worker")
#: Seconds the pool retries one lost connection before a new request starts over.
RECONNECT_TIMEOUT = 10.0


@dataclasses.dataclass(frozen=True, slots=True)
class Parts:
    """The parts of one running process, built together once the pool is open."""

    context: ProcessContext
    registry: ProcessRegistry
    writer: OutcomeWriter
    slots: Slots
    claimer: Claimer
    #: ``None`` when nothing can LISTEN (transaction pooling without a listen URL): polling.
    listener: Listener | None
    #: Woken by control notifications (cancels).
    control: Waker


class WorkerProcess:
    """See the module docstring. ``await run()`` returns the exit code (0)."""

    def __init__(self, app: Toro, settings: WorkerSettings, *, signals: bool = True) -> None:
        self.app = app
        self.settings = settings
        #: Whether to handle SIGTERM and SIGINT (a process of its own) or not (embedded).
        self.signals = signals
        self.stopping = anyio.Event()
        self.force = anyio.Event()
        #: Set once the process is registered and its slots run.
        self.ready = anyio.Event()
        self._waker = Waker()

    @property
    def shutdown_timeout(self) -> float:
        return self.settings.shutdown_timeout

    def stop(self) -> None:
        """Begin a graceful stop (what SIGTERM does)."""
        self.stopping.set()
        self._waker.wake()

    def stop_now(self) -> None:
        """Stop without waiting for running jobs (what a second SIGTERM does)."""
        self.force.set()
        self.stop()

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> int:
        connections = self.app.connections
        await _check_database(connections)
        # a session SET is kept by a direct connection; behind PgBouncer in transaction mode
        # the claims and outcomes relax their own commits instead (CoreStore.relaxed_commit)
        session_set = not (self.settings.synchronous_commit or connections.transaction_pooled)
        pool = AsyncConnectionPool(
            connections.url,
            min_size=3,
            max_size=8,
            kwargs={"autocommit": True, **connections.kwargs},
            configure=_relaxed_commit if session_set else None,
            open=False,
            timeout=10,
            # The pool's own reconnection backs off up to minutes in a long outage; giving up
            # after a few seconds makes the next request start afresh, so the process is back
            # within seconds of the database.
            reconnect_timeout=RECONNECT_TIMEOUT,
            name="toro-worker",
        )
        await pool.open(wait=True, timeout=30)
        try:
            parts = self._build(pool, connections)
            # before registering: a plugin that refuses to start (a metrics port in use) fails
            # the process with nothing to undo
            plugin_services = services.collect(parts.context)
            await until_done(parts.registry.register, what="registering the process", log=log)
            await self._run(parts, plugin_services)
        finally:
            await pool.close()
        log.info(
            "process %s stopped: %d jobs claimed, %d outcomes written, %d refused",
            self.settings.identity,
            parts.claimer.claimed,
            parts.writer.written,
            parts.writer.refused,
        )
        return 0

    def _build(self, pool: AsyncConnectionPool[Any], connections: Connections) -> Parts:
        settings = self.settings
        store = CoreStore(
            pool,
            relaxed_commit=connections.transaction_pooled and not settings.synchronous_commit,
        )
        registry: ProcessRegistry
        stats: ProcessStats
        context = ProcessContext(
            app=self.app,
            settings=settings,
            pool=pool,
            store=store,
            stopping=self.stopping,
            current_id=lambda: registry.process_id,
            current_stats=lambda: stats,
        )
        writer = OutcomeWriter(
            store,
            flush_size=settings.flush_size,
            flush_interval=settings.flush_interval,
            limit=settings.max_pending_outcomes,
            on_written=written_observer(self.app, context),
        )
        executor = Executor(self.app, settings.concurrency, context)
        slots = Slots(executor, writer, settings.concurrency, self._waker)
        registry = ProcessRegistry(store, settings, on_declared_dead=slots.abandon)
        claimer = Claimer(
            store=store,
            settings=settings,
            slots=slots,
            writer=writer,
            owner=context.current_id,
            waker=self._waker,
            stopping=self.stopping,
        )
        control = Waker()
        listener = listener_for(connections, settings, self._waker, control)
        stats = ProcessStats(
            slots=slots, writer=writer, claimer=claimer, listener=listener, pool=pool
        )
        return Parts(context, registry, writer, slots, claimer, listener, control)

    async def _run(self, parts: Parts, plugin_services: list[services.Service]) -> None:
        settings = self.settings
        control = parts.control
        promoter = Promoter(parts.context.store, settings, self.stopping)
        pruner = Pruner(
            parts.context.store,
            settings.retention.horizons(self.app.statuses),
            stopping=self.stopping,
        )
        cancels = CancelWatcher(
            parts.context.store,
            parts.slots,
            parts.context.current_id,
            control,
            settings.poll_interval,
        )
        async with anyio.create_task_group() as background:
            background.start_soon(parts.registry.run)
            background.start_soon(parts.writer.run)
            if parts.listener is not None:
                background.start_soon(parts.listener.run)
            background.start_soon(promoter.run)
            background.start_soon(cancels.run)
            summary = Summary(
                parts.slots.executor, parts.slots, settings.summary_interval, self.stopping
            )
            background.start_soon(summary.run)
            background.start_soon(pruner.run)
            if self.signals:
                await background.start(handle_signals, self)  # before 'running'
            for service in plugin_services:
                background.start_soon(services.supervise, service, self.stopping)
            async with anyio.create_task_group() as jobs:
                for _ in range(settings.concurrency):
                    jobs.start_soon(parts.slots.run_slot)
                self.ready.set()
                log.info(
                    "worker %s running: queues %s, concurrency %d",
                    settings.identity,
                    ",".join(settings.queues),
                    settings.concurrency,
                )
                await parts.claimer.run()
                with anyio.move_on_after(10):  # a stop starts nothing new
                    await until_done(
                        functools.partial(parts.claimer.give_back_waiting, everything=True),
                        what="giving back jobs claimed ahead",
                        log=log,
                    )
                await self._drain(parts.slots, jobs)
            await self._finish(parts)
            parts.slots.executor.threads.close()
            background.cancel_scope.cancel()

    async def _drain(self, slots: Slots, jobs: anyio.abc.TaskGroup) -> None:
        """Wait for running jobs up to ``shutdown_timeout`` (or :meth:`stop_now`), then cancel."""
        if slots.running:
            log.info(
                "waiting up to %.0fs for %d running jobs",
                self.settings.shutdown_timeout,
                len(slots.running),
            )
            with anyio.move_on_after(self.settings.shutdown_timeout):
                await _first_of(slots.wait_idle, self.force.wait)
        if slots.running:
            log.warning(
                "cancelling %d jobs that did not finish; they go back to queued", len(slots.running)
            )
        jobs.cancel_scope.cancel()

    async def _finish(self, parts: Parts) -> None:
        """Write outcomes, requeue cancelled jobs and leave the registry.

        :meth:`stop_now` cuts the wait for outcomes short (those jobs are recovered and run
        again); requeueing and leaving the registry are still tried, for a few seconds each.
        """
        writer, store = parts.writer, parts.context.store
        with anyio.move_on_after(max(5.0, self.settings.shutdown_timeout)) as scope:
            await _first_of(writer.wait_drained, self.force.wait)
        if writer.pending:
            log.error(
                "%d outcomes could not be written%s; those jobs will be recovered and run again",
                writer.pending,
                " in time" if scope.cancelled_caught else "",
            )
        for owner, ids in parts.slots.to_requeue().items():
            with anyio.move_on_after(10):
                requeued = await until_done(
                    functools.partial(store.requeue, owner, ids, self.settings.identity),
                    what="requeueing cancelled jobs",
                    log=log,
                )
                log.info("requeued %d of %d cancelled jobs", requeued, len(ids))
        with anyio.move_on_after(5) as scope:
            try:
                await parts.registry.deregister()
            except TRANSIENT as exc:
                log.warning("could not leave the process registry (%s)", exc)
        if scope.cancelled_caught:
            log.warning("could not leave the process registry in time")


async def _check_database(connections: Connections) -> None:
    """Fail fast, in one clear line, on a database that is unreachable or not migrated."""
    conn = await connections.aconnect()
    async with conn:
        if not await CoreStore(connection=conn).schema_ready():
            raise SchemaMissing(
                f"the toro tables do not exist in {describe_conninfo(connections.url)}: "
                "run `toro-core migrate` first"
            )


async def _relaxed_commit(conn: psycopg.AsyncConnection[Any]) -> None:
    """Claims and outcomes commit without waiting for the WAL flush.

    Enqueues are not affected (they use other connections). Direct connections only: behind
    PgBouncer in transaction mode a session SET would reach other clients' transactions
    (:class:`CoreStore` ``relaxed_commit`` does it per statement). A database crash can forget the
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
