"""Running one attempt: resolve the worker, enter middleware, call perform, decide the outcome."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import inspect
import logging
import time
import traceback
from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from toro_core import current
from toro_core.catalog import resolve
from toro_core.errors import JobCancelled, JobExited, JobTimeout, JobUndecodable, ToroError
from toro_core.outcome import Execution, Outcome, Snooze
from toro_core.printable import printable, safe_str
from toro_core.runtime.threads import JobThreads
from toro_core.timing import placement, utcnow

if TYPE_CHECKING:
    from toro_core.app import Toro
    from toro_core.job import Job
    from toro_core.runtime.context import ProcessContext
    from toro_core.worker import Worker

log = logging.getLogger("toro.job")


def error_properties(error: BaseException) -> dict[str, Any]:
    """The seed's ``error:*`` properties for an exception (even one whose ``str()`` fails)."""
    return {
        "error:class": error_class(error),
        "error:message": safe_str(error),
        "error:backtrace": "".join(traceback.format_exception(error)),
    }


def error_class(error: BaseException) -> str:
    """``module.Qualified.Name`` of an exception's class (no module for builtins)."""
    cls = type(error)
    name = cls.__qualname__
    return name if cls.__module__ == "builtins" else f"{cls.__module__}.{name}"


class Executor:
    """Runs attempts for one worker process; sync ``perform`` goes to a thread pool of size c."""

    def __init__(self, app: Toro, concurrency: int, process: ProcessContext | None = None) -> None:
        self.app = app
        #: The worker process the attempts run in (``None`` when run outside one).
        self.process = process
        #: The threads sync ``perform`` runs in (at most one per busy slot).
        self.threads = JobThreads()
        #: Packages whose modules a job may cause to be imported (``--allow-import``).
        self.allow_import = process.settings.allow_import if process is not None else ()
        self._instances: dict[str, Worker | BaseException] = {}
        #: The ``job_middleware`` of each class run so far, by class name (outermost first).
        self._middleware: dict[str, tuple[Callable[[Execution], Any], ...]] = {}
        #: Whether each class's ``perform`` is ``async def``, by class name.
        self._asynchronous: dict[str, bool] = {}
        #: Attempts run so far, by the status they ended with (read by the summary line).
        self.finished: collections.Counter[str] = collections.Counter()

    def worker_for(self, class_name: str) -> Worker:
        """One worker instance per class per process. A class that is not loaded is looked
        for again next time (an application may import it later); a class that is found but
        refused (a bad option, a failing constructor) keeps its error."""
        found = self._instances.get(class_name)
        if found is None:
            cls = resolve(class_name, self.allow_import)
            try:
                self.app.check_worker(cls)
                found = cls()
                self._middleware[class_name] = self.app.middleware_for(cls)
                self._asynchronous[class_name] = inspect.iscoroutinefunction(found.perform)
            except (ToroError, TypeError, ValueError) as exc:
                found = exc
            self._instances[class_name] = found
        if isinstance(found, BaseException):
            raise found
        return found

    async def run(
        self, job: Job, holder: str = "", control: AttemptControl | None = None
    ) -> Execution:
        """Run ``job`` once and return its execution with ``outcome`` decided.

        ``control`` lets the caller stop the attempt (a cancel request); without one the
        attempt can only end by itself or by its timeout.
        """
        control = control or AttemptControl()
        start = time.perf_counter()
        try:
            if job.undecodable is not None:
                raise JobUndecodable(f"the job's data cannot be read: {job.undecodable}")
            worker = self.worker_for(job.class_name)
        except BaseException as exc:  # an unknown class or unreadable row fails the job alone
            execution = Execution(
                job=job, worker=None, error=exc, holder=holder, process=self.process
            )
            execution.properties.update(error_properties(exc))
            execution.outcome = Outcome.failed()
            self.finished["failed"] += 1
            log.error("job %s %s cannot run: %s", job.id, printable(job.class_name), printable(exc))
            return execution
        execution = Execution(job=job, worker=worker, holder=holder, process=self.process)
        app = self.app
        waiting = app.lifecycle("job_started", execution)
        if waiting is not None:
            await waiting
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "job %s %s started (attempt %s)", job.id, printable(job.class_name), job.attempt
            )
        escaped: BaseException | None = None
        entered = current.enter(execution)
        try:
            middleware = self._middleware[job.class_name]
            managers = [make(execution) for make in middleware] if middleware else []
            if app.has("around_job"):
                managers += app.around_job(execution)
            if not managers:
                await self._perform(execution, worker, job, control)
            elif len(managers) == 1:
                async with managers[0]:
                    await self._perform(execution, worker, job, control)
            else:
                async with AsyncExitStack() as stack:
                    for manager in managers:
                        await stack.enter_async_context(manager)
                    await self._perform(execution, worker, job, control)
        except Exception as exc:
            escaped = exc
            if (
                app.has("job_failed")
                and not control.cancelled
                and not isinstance(exc, (Snooze, JobCancelled))
            ):
                await app.job_failed(execution, exc)
        finally:
            current.leave(entered)
        execution.duration = time.perf_counter() - start
        self._decide(execution, escaped, control)
        waiting = app.lifecycle("job_finished", execution)
        if waiting is not None:
            await waiting
        outcome = execution.outcome
        assert outcome is not None
        self.finished[outcome.status] += 1
        if escaped is not None and not isinstance(escaped, Snooze):
            # a failure is worth a line by default (its status says whether it will be retried)
            log.info(
                "job %s %s %s in %.3fs: %s: %s",
                job.id,
                printable(job.class_name),
                printable(outcome.status),
                execution.duration,
                printable(type(escaped).__name__),
                printable(escaped),
            )
        elif log.isEnabledFor(logging.DEBUG):
            log.debug(
                "job %s %s %s in %.3fs",
                job.id,
                printable(job.class_name),
                printable(outcome.status),
                execution.duration,
            )
        return execution

    def _decide(
        self, execution: Execution, escaped: BaseException | None, control: AttemptControl
    ) -> None:
        """The outcome: a cancel or a snooze wins over what middleware chose; then
        middleware's choice; then complete on return, failed on an exception."""
        job = execution.job
        if control.cancelled and escaped is not None:
            execution.outcome = Outcome("cancelled")
            execution.properties["cancel:stopped_at"] = utcnow().isoformat()
            return
        if isinstance(escaped, Snooze):
            execution.outcome = Outcome(**placement(utcnow() + timedelta(seconds=escaped.seconds)))
            execution.properties.update(
                {
                    "snooze:count": job.snoozes + 1,
                    "snooze:at": utcnow().isoformat(),
                    "snooze:seconds": escaped.seconds,
                }
            )
            return
        if escaped is not None:
            execution.error = escaped
            execution.properties.update(error_properties(escaped))
        if execution.outcome is None:
            execution.outcome = Outcome.failed() if escaped is not None else Outcome.complete()
        elif execution.outcome.status not in self.app.statuses:
            log.error(
                "job %s: middleware chose unknown status %s; failing it",
                job.id,
                printable(repr(execution.outcome.status)),
            )
            execution.properties["error:outcome"] = f"unknown status {execution.outcome.status!r}"
            execution.outcome = Outcome.failed()

    async def _perform(
        self, execution: Execution, worker: Worker, job: Job, control: AttemptControl
    ) -> None:
        """Call ``perform``; a cancel request or the worker's ``timeout`` stops it (raising
        :class:`JobCancelled` or :class:`JobTimeout` for the middleware to see).

        The stop is asyncio's own: :meth:`AttemptControl.cancel` cancels this task while it
        waits in ``perform`` (``control.task`` is set only around that wait), and the
        ``CancelledError`` is taken back here (``uncancel``); a cancellation that is not ours,
        a stop of the process, goes on up. (No cancel scope per attempt: making, entering and
        leaving one cost 4-5 us per job.)
        """
        if control.cancelled or control.abandoned:
            raise JobCancelled("the job was stopped before it started")
        limit = type(worker).timeout
        task = asyncio.current_task()
        assert task is not None
        cancelling = task.cancelling()
        timer: asyncio.Timeout | None = None
        control.task = task
        try:
            if limit is None:
                execution.result = await self._call(worker, job)
            else:
                async with asyncio.timeout(limit) as timer:
                    execution.result = await self._call(worker, job)
        except asyncio.CancelledError:
            if not control.fired:
                raise  # not ours: the process stops
            control.fired = False  # taken back here, once
            if task.uncancel() > cancelling:
                raise  # ours and another's: the process stops
            error: ToroError = (
                JobCancelled("another process runs the job now")
                if control.abandoned
                else JobCancelled("the job was cancelled while it ran")
            )
            execution.error = error
            raise error from None
        except TimeoutError as exc:
            if timer is not None and timer.expired():
                error = JobTimeout(f"job exceeded its timeout of {limit:g} s")
                execution.error = error
                raise error from None
            execution.error = exc
            raise
        except Exception as exc:
            execution.error = exc
            raise
        finally:
            control.task = None
            if control.fired:  # ours was swallowed by perform: take it back all the same
                control.fired = False
                task.uncancel()

    async def _call(self, worker: Worker, job: Job) -> Any:
        """Call ``perform``; ``sys.exit()`` in a job fails the job, not the process."""
        perform, args, kwargs = worker.perform, job.args, job.kwargs
        try:
            if self._asynchronous[job.class_name]:
                return await perform(*args, **kwargs)
            result = await self.threads.run(lambda: perform(*args, **kwargs))
            if inspect.isawaitable(result):  # a sync def that returned a coroutine
                return await result
            return result
        except (SystemExit, KeyboardInterrupt) as exc:
            raise JobExited(
                f"the job raised {type(exc).__name__}({safe_str(exc)}); a job cannot stop its "
                "worker process"
            ) from exc


@dataclasses.dataclass(slots=True, eq=False)
class AttemptControl:
    """How a running attempt is stopped from outside: :meth:`cancel` (a cancel request) or
    :meth:`abandon`. Either may come before the attempt starts (it is then not started), while
    ``perform`` runs (its task is cancelled) or after it returned (nothing changes)."""

    cancelled: bool = False
    #: Stopped because others run the job now (this process was declared dead).
    abandoned: bool = False
    #: The task waiting in ``perform``, while it waits (set by the executor).
    task: asyncio.Task[Any] | None = None
    #: Whether :meth:`cancel` or :meth:`abandon` cancelled that task (the executor takes the
    #: cancellation back).
    fired: bool = False

    def cancel(self) -> None:
        """Stop the attempt: an async ``perform`` is cancelled; a sync one is left to finish
        in its thread, its result discarded. The job ends ``cancelled``."""
        self.cancelled = True
        self._stop()

    def abandon(self) -> None:
        """Stop the attempt because another process runs the job now: like :meth:`cancel`,
        and its outcome is never written (the caller drops it)."""
        self.abandoned = True
        self._stop()

    def _stop(self) -> None:
        if self.task is not None and not self.fired:
            self.fired = True
            self.task.cancel()
