"""Running jobs in the caller's own process: :func:`drain` and the inline mode, for tests.

A drain registers itself as a worker process (so its claims are fenced like any other), then
claims and runs the waiting jobs of the given queues one at a time through the app's plugins
(middleware, retries, outcome rules) and the executor a worker uses, writing each outcome
before the next claim, until none is left. It runs no plugin services and no promoter of its
own: due scheduled jobs are queued first (all of them with ``with_scheduled``), and retries
a job schedules are run in the same drain only with ``with_scheduled``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import threading
from typing import TYPE_CHECKING, Any

import anyio
from psycopg_pool import AsyncConnectionPool

from toro_core.runtime.claimer import START
from toro_core.runtime.context import ProcessContext
from toro_core.runtime.executor import Executor
from toro_core.runtime.outcomes import to_pending, written_observer
from toro_core.runtime.registry import ProcessRegistry
from toro_core.settings import WorkerSettings
from toro_core.store import CoreStore

if TYPE_CHECKING:
    from collections.abc import Sequence

    from toro_core.app import Toro
    from toro_core.job import Job
    from toro_core.outcome import Execution


@dataclasses.dataclass(frozen=True, slots=True)
class Ran:
    """One attempt a drain ran: the job as claimed and what became of it."""

    #: The job as it was claimed (``status`` is ``running``).
    job: Job
    #: The status the attempt ended in (``complete``, ``failed``, ``scheduled`` for a retry...).
    status: str
    #: What ``perform`` returned, or the exception it raised.
    result: Any
    error: BaseException | None

    @classmethod
    def of(cls, execution: Execution) -> Ran:
        outcome = execution.outcome
        return cls(
            job=execution.job,
            status=outcome.status if outcome else "failed",
            result=execution.result,
            error=execution.error,
        )


class Drain:
    """A short-lived worker process inside the caller's event loop (see the module)."""

    def __init__(self, app: Toro, queues: Sequence[str] | None = None) -> None:
        self.app = app
        self.queues = list(queues) if queues else None
        self.identity = f"{socket.gethostname()}:{os.getpid()}:drain"

    async def __aenter__(self) -> Drain:
        connections = self.app.connections
        self._pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            connections.url,
            min_size=1,
            max_size=2,
            kwargs={"autocommit": True, **connections.kwargs},
            open=False,
        )
        await self._pool.open()
        self.store = CoreStore(self._pool)
        settings = WorkerSettings(queues=tuple(self.queues or ("default",)), concurrency=1)
        self.registry = ProcessRegistry(self.store, settings, on_declared_dead=lambda old: None)
        await self.registry.register()
        context = ProcessContext(
            app=self.app,
            settings=settings,
            pool=self._pool,
            store=self.store,
            stopping=anyio.Event(),
            current_id=lambda: self.registry.process_id,
        )
        self.executor = Executor(self.app, 1, context)
        self.observe = written_observer(self.app, context)
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.registry.deregister()
        finally:
            await self._pool.close()

    async def run(self, job: Job) -> Ran:
        """Run one claimed job and write its outcome."""
        owner = self.registry.process_id
        execution = await self.executor.run(job, owner)
        pending = to_pending(execution, owner)
        if await self.store.finish(owner, [pending]) and self.observe is not None:
            self.observe([pending])
        return Ran.of(execution)

    async def all(self, *, with_scheduled: bool, max_jobs: int) -> list[Ran]:
        """Run waiting jobs until none is left (or ``max_jobs`` ran)."""
        ran: list[Ran] = []
        while len(ran) < max_jobs:
            queues = self.queues or await self.store.waiting_queues()
            if not queues:
                break
            if with_scheduled:
                await self.store.promote_scheduled(queues)
            else:
                await self.store.promote_due(1000)
            await self.store.unblock()
            jobs = await self.store.claim(
                queues=queues,
                after=START,
                limit=min(100, max_jobs - len(ran)),
                owner=self.registry.process_id,
                started_by=self.identity,
                plain=False,  # the claim that knows limits: a test's drain is no hot path
            )
            if not jobs:
                break
            for job in jobs:
                ran.append(await self.run(job))
        return ran

    async def one(self, job_id: int) -> Ran | None:
        """Claim and run one job by id, at once (inline mode); ``None`` if it is not waiting."""
        job = await self.store.claim_job(
            job_id, owner=self.registry.process_id, started_by=self.identity
        )
        return None if job is None else await self.run(job)


async def adrain(
    app: Toro,
    queues: Sequence[str] | None = None,
    *,
    with_scheduled: bool = False,
    max_jobs: int = 10_000,
) -> list[Ran]:
    """Run every waiting job of ``queues`` (default: all) in this process; return what ran,
    in order. See the module docstring."""
    async with Drain(app, queues) as drain:
        return await drain.all(with_scheduled=with_scheduled, max_jobs=max_jobs)


async def arun_now(app: Toro, job_id: int) -> Ran | None:
    """Run one waiting job at once in this process (the inline mode)."""
    async with Drain(app) as drain:
        return await drain.one(job_id)


def run_sync(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Run an async function to completion from sync code, even when this thread already runs
    an event loop (then in a thread of its own).

    ``asyncio.run`` rather than ``anyio.run``: a job thread runs in a copy of the loop's
    context, where anyio believes asyncio runs already; only the thread's own loop counts.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # no loop in this thread
        return asyncio.run(function(*args, **kwargs))
    box: list[Any] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            box.append(asyncio.run(function(*args, **kwargs)))
        except BaseException as exc:  # handed to the caller
            errors.append(exc)

    thread = threading.Thread(target=target, name="toro-run-sync")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return box[0]
