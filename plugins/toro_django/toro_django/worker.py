"""Running a Django task as a toro job.

Each task gets a toro worker class of its own (made by :mod:`toro_django.registry`): a
subclass of :class:`SyncTaskWorker` (a plain ``def`` task, run in one of the worker's
threads) or :class:`AsyncTaskWorker` (an ``async def`` task, run on the worker's event loop).
Its ``perform`` calls the task's function with the job's arguments, and with a
``TaskContext`` first when the task ``takes_context``; what the function returns is the job's
result. As Django's own backends do, a return value that is not JSON fails the task
(``TypeError``), and Django's ``task_started`` / ``task_finished`` signals are sent around
each attempt.

This module is also the plugin (``around_job``) that ``manage.py toro_worker`` registers on
its app: it makes the attempt's job known to ``perform`` (for the ``TaskContext``).
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import traceback
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, ClassVar

from django.db import close_old_connections

from toro_core import Execution, Worker, hookimpl
from toro_django.compat import (
    TaskContext,
    TaskError,
    TaskResultStatus,
    normalize_json,
    set_return_value,
    task_finished,
    task_started,
)
from toro_django.results import to_task_result

if TYPE_CHECKING:
    from toro_django.compat import Task, TaskResult

_attempt: contextvars.ContextVar[Execution] = contextvars.ContextVar("toro_django_attempt")


class TaskWorker(Worker):
    """Base of the worker classes of Django tasks; ``_task`` is the task a class runs."""

    _task: ClassVar[Task | None] = None

    def _begin(self) -> tuple[Task, TaskResult | None]:
        task = type(self)._task
        if task is None:
            raise TypeError(f"{type(self).__qualname__} is not the worker of a Django task")
        execution = _attempt.get(None)
        if execution is None or execution.process is None:
            if task.takes_context:
                raise RuntimeError(
                    f"task {task.module_path} takes a context: run it with manage.py toro_worker"
                )
            return task, None
        result = to_task_result(
            task, execution.job, backend=task.backend, app=execution.process.app
        )
        task_started.send(sender=TaskWorker, task_result=result)
        return task, result

    def _arguments(
        self, task: Task, result: TaskResult | None, args: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        if task.takes_context:
            return (TaskContext(task_result=result), *args)
        return args


class SyncTaskWorker(TaskWorker):
    """Runs a plain ``def`` task in a worker thread, with Django's connection hygiene around
    it (``close_old_connections``, as a request gets)."""

    def perform(self, *args: Any, **kwargs: Any) -> Any:
        task, result = self._begin()
        close_old_connections()
        try:
            return _finished(
                task, result, lambda: task.func(*self._arguments(task, result, args), **kwargs)
            )
        finally:
            close_old_connections()


class AsyncTaskWorker(TaskWorker):
    """Runs an ``async def`` task on the worker's event loop (use Django's async ORM, or
    ``sync_to_async``, inside it)."""

    async def perform(self, *args: Any, **kwargs: Any) -> Any:
        task, result = self._begin()
        try:
            value = await task.func(*self._arguments(task, result, args), **kwargs)
        except BaseException as exc:
            _send_finished(result, exc)
            raise
        return _finished(task, result, lambda: value)


def _finished(task: Task, result: TaskResult | None, call: Callable[[], Any]) -> Any:
    """Run ``call``, check its value is JSON (normalised as Django does), send
    ``task_finished``; return the value."""
    try:
        raw = call()
        try:
            value = normalize_json(raw)
        except (TypeError, ValueError) as exc:
            kind = f"{type(raw).__module__}.{type(raw).__qualname__}"
            raise TypeError(
                f"task {task.module_path} returned a {kind} value; a task's return value "
                f"must be JSON ({exc})"
            ) from None
    except BaseException as exc:
        _send_finished(result, exc)
        raise
    if result is not None:
        object.__setattr__(result, "status", TaskResultStatus.SUCCESSFUL)
        set_return_value(result, value)
        task_finished.send(sender=TaskWorker, task_result=result)
    return value


def _send_finished(result: TaskResult | None, error: BaseException) -> None:
    """``task_finished`` for an attempt that raised (sent inside the handler, so receivers
    see the exception in ``sys.exc_info()`` as with Django's backends)."""
    if result is None or not sys.exc_info()[0]:
        return
    cls = type(error)
    result.errors.append(
        TaskError(
            exception_class_path=f"{cls.__module__}.{cls.__qualname__}",
            traceback="".join(traceback.format_exception(error)),
        )
    )
    object.__setattr__(result, "status", TaskResultStatus.FAILED)
    task_finished.send(sender=TaskWorker, task_result=result)


@hookimpl
def around_job(execution: Execution) -> contextlib.AbstractAsyncContextManager[None] | None:
    """Make the attempt known to a Django task's ``perform`` (see the module)."""
    if not isinstance(execution.worker, TaskWorker):
        return None
    return _known(execution)


@contextlib.asynccontextmanager
async def _known(execution: Execution) -> AsyncIterator[None]:
    token = _attempt.set(execution)
    try:
        yield
    finally:
        _attempt.reset(token)
