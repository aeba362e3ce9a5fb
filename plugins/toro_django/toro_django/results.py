"""A toro job as a Django ``TaskResult``: statuses, times, return value and errors.

=================================  ==========================================================
toro status                        Django ``TaskResultStatus``
=================================  ==========================================================
``queued``, ``scheduled``          ``READY`` (waiting; also a failed attempt toro-retry will
                                   retry, and any other status a plugin marks not final)
``running``                        ``RUNNING``
``complete``                       ``SUCCESSFUL`` (``return_value`` is ``job.result``)
``failed``                         ``FAILED`` (``errors`` holds each failed attempt)
``cancelled``                      ``FAILED``: Django has no cancelled status; the last error
                                   is a ``toro_core.errors.JobCancelled`` saying who cancelled
                                   it and when
a plugin's final status            ``FAILED``
=================================  ==========================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from toro_django.compat import TaskError, TaskResult, TaskResultStatus, set_return_value

if TYPE_CHECKING:
    from toro_core import Job, Toro
    from toro_django.compat import Task

#: The error class recorded for a cancelled job (toro's own, importable as Django expects).
CANCELLED_CLASS = "toro_core.errors.JobCancelled"


def task_status(job: Job, app: Toro) -> Any:
    """The Django status of a job (see the module's table)."""
    status = job.status
    if status == "complete":
        return TaskResultStatus.SUCCESSFUL
    if status == "running":
        return TaskResultStatus.RUNNING
    if status in ("failed", "cancelled"):
        return TaskResultStatus.FAILED
    if status in app.statuses and app.statuses[status].final:
        return TaskResultStatus.FAILED
    return TaskResultStatus.READY


def to_task_result(task: Task, job: Job, *, backend: str, app: Toro) -> TaskResult:
    """The ``TaskResult`` of ``task`` that ``job`` (as read now) stands for; its id is the
    job's id as a string."""
    status = task_status(job, app)
    finished = status in (TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED)
    result = TaskResult(
        task=task,
        id=str(job.id),
        status=status,
        enqueued_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at if finished else None,
        last_attempted_at=job.started_at,
        args=list(job.args),
        kwargs=dict(job.kwargs),
        backend=backend,
        errors=task_errors(job),
        # One entry per attempt (Django counts attempts by them). toro keeps the process of
        # the last attempt only (started_by), so every entry names that one.
        worker_ids=[job.started_by or ""] * job.attempt,
    )
    if status == TaskResultStatus.SUCCESSFUL:
        set_return_value(result, job.result)
    return result


def task_errors(job: Job) -> list[TaskError]:
    """One ``TaskError`` per failed attempt, oldest first: toro-retry's history
    (``retry:errors``, class and message), the last error with its backtrace
    (``error:*``), and a cancel."""
    properties = job.properties
    errors: list[TaskError] = []
    history = properties.get("retry:errors")
    if isinstance(history, list):
        for entry in history:
            if isinstance(entry, Mapping) and entry.get("class"):
                errors.append(
                    _error(str(entry["class"]), f"{entry['class']}: {entry.get('message', '')}")
                )
    last_class = properties.get("error:class")
    if last_class:
        backtrace = str(properties.get("error:backtrace") or properties.get("error:message") or "")
        last = _error(str(last_class), backtrace)
        same_as_history = (
            isinstance(history, list)
            and history
            and isinstance(history[-1], Mapping)
            and history[-1].get("class") == last_class
            and history[-1].get("message") == properties.get("error:message")
        )
        if same_as_history:
            errors[-1] = last
        else:
            errors.append(last)
    if job.status == "cancelled":
        by = properties.get("cancel:by") or "someone"
        at = properties.get("cancel:at") or job.finished_at
        errors.append(
            _error(
                CANCELLED_CLASS, f"{CANCELLED_CLASS}: job {job.id} was cancelled by {by} at {at}"
            )
        )
    return errors


def _error(class_name: str, traceback: str) -> TaskError:
    # Django resolves exception_class_path with import_string, which needs a dotted path:
    # toro stores built-in exceptions by their bare name.
    path = class_name if "." in class_name else f"builtins.{class_name}"
    return TaskError(exception_class_path=path, traceback=traceback)
