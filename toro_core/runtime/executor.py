"""Running one attempt: resolve the worker, enter middleware, call perform, decide the outcome."""

from __future__ import annotations

import inspect
import logging
import time
import traceback
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import anyio

from toro_core.catalog import resolve
from toro_core.errors import JobTimeout, ToroError
from toro_core.outcome import Execution, Outcome

if TYPE_CHECKING:
    from toro_core.app import Toro
    from toro_core.job import Job
    from toro_core.runtime.context import ProcessContext
    from toro_core.worker import Worker

log = logging.getLogger("toro.job")


def error_properties(error: BaseException) -> dict[str, Any]:
    """The seed's ``error:*`` properties for an exception."""
    cls = type(error)
    name = cls.__qualname__
    if cls.__module__ != "builtins":
        name = f"{cls.__module__}.{name}"
    return {
        "error:class": name,
        "error:message": str(error),
        "error:backtrace": "".join(traceback.format_exception(error)),
    }


class Executor:
    """Runs attempts for one worker process; sync ``perform`` goes to a thread pool of size c."""

    def __init__(self, app: Toro, concurrency: int, process: ProcessContext | None = None) -> None:
        self.app = app
        #: The worker process the attempts run in (``None`` when run outside one).
        self.process = process
        self.threads = anyio.CapacityLimiter(concurrency)
        self._instances: dict[str, Worker | BaseException] = {}

    def worker_for(self, class_name: str) -> Worker:
        """One worker instance per class per process; the error is cached too."""
        found = self._instances.get(class_name)
        if found is None:
            try:
                cls = resolve(class_name)
                self.app.check_worker(cls)
                found = cls()
            except (ToroError, TypeError, ValueError) as exc:
                found = exc
            self._instances[class_name] = found
        if isinstance(found, BaseException):
            raise found
        return found

    async def run(self, job: Job, holder: str = "") -> Execution:
        """Run ``job`` once and return its execution with ``outcome`` decided."""
        start = time.perf_counter()
        try:
            worker = self.worker_for(job.class_name)
        except BaseException as exc:  # an unknown class fails the job, the process goes on
            execution = Execution(
                job=job, worker=None, error=exc, holder=holder, process=self.process
            )
            execution.properties.update(error_properties(exc))
            execution.outcome = Outcome.failed()
            log.error("job %s %s cannot run: %s", job.id, job.class_name, exc)
            return execution
        execution = Execution(job=job, worker=worker, holder=holder, process=self.process)
        app = self.app
        await app.lifecycle("job_started", execution)
        log.info("job %s %s started (attempt %s)", job.id, job.class_name, job.attempt)
        escaped: BaseException | None = None
        try:
            managers = app.around_job(execution)
            if managers:
                async with AsyncExitStack() as stack:
                    for manager in managers:
                        await stack.enter_async_context(manager)
                    await self._perform(execution, worker, job)
            else:
                await self._perform(execution, worker, job)
        except Exception as exc:
            escaped = exc
        execution.duration = time.perf_counter() - start
        if escaped is not None:
            execution.error = escaped
            execution.properties.update(error_properties(escaped))
        if execution.outcome is None:
            execution.outcome = Outcome.failed() if escaped is not None else Outcome.complete()
        elif execution.outcome.status not in app.statuses:
            log.error(
                "job %s: middleware chose unknown status %r; failing it",
                job.id,
                execution.outcome.status,
            )
            execution.properties["error:outcome"] = f"unknown status {execution.outcome.status!r}"
            execution.outcome = Outcome.failed()
        await app.lifecycle("job_finished", execution)
        if escaped is not None:
            log.info(
                "job %s %s %s in %.3fs: %s: %s",
                job.id,
                job.class_name,
                execution.outcome.status,
                execution.duration,
                type(escaped).__name__,
                escaped,
            )
        elif log.isEnabledFor(logging.INFO):
            log.info(
                "job %s %s %s in %.3fs",
                job.id,
                job.class_name,
                execution.outcome.status,
                execution.duration,
            )
        return execution

    async def _perform(self, execution: Execution, worker: Worker, job: Job) -> None:
        limit = type(worker).timeout
        try:
            if limit is None:
                execution.result = await self._call(worker, job.args)
                return
            with anyio.move_on_after(limit) as scope:
                execution.result = await self._call(worker, job.args)
        except Exception as exc:
            execution.error = exc
            raise
        if scope.cancelled_caught:
            error = JobTimeout(f"job exceeded its timeout of {limit:g} s")
            execution.error = error
            raise error

    async def _call(self, worker: Worker, args: list[Any]) -> Any:
        perform = worker.perform
        if inspect.iscoroutinefunction(perform):
            return await perform(*args)
        result = await anyio.to_thread.run_sync(
            lambda: perform(*args), limiter=self.threads, abandon_on_cancel=True
        )
        if inspect.isawaitable(result):  # a sync def that returned a coroutine
            return await result
        return result
