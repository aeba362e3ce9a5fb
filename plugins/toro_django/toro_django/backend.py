"""``toro_django.TaskBackend``: Django's Tasks enqueued as toro jobs.

::

    TASKS = {
        "default": {
            "BACKEND": "toro_django.TaskBackend",
            "QUEUES": ["default", "emails"],           # Django's option; default ["default"]
            "OPTIONS": {
                "DATABASE": "default",                 # Django database to enqueue on
                "MODULES": ["shop.jobs"],              # task modules beyond <app>.tasks
                "DATABASE_URL": None,                  # the worker's conninfo (default: the
            },                                         # DATABASE's own parameters)
        }
    }

An enqueue is one ``INSERT`` on Django's own connection of ``DATABASE``, inside whatever
transaction Django has open there: in ``transaction.atomic`` the task exists only if the block
commits (no ``transaction.on_commit`` needed), outside one it is committed at once. The task's
``priority`` (-100..100, larger first), ``queue_name`` and ``run_after`` become the job's
priority, queue and due time. ``get_result`` reads the job on the same connection, so inside
the transaction that enqueued it the task is visible already.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from toro_core import Toro, Worker
from toro_core.plugin import CoreSyncStore, as_utc, utcnow
from toro_django.compat import BaseTaskBackend, TaskResultDoesNotExist, task_enqueued
from toro_django.connection import conninfo, psycopg_connection
from toro_django.registry import TaskRegistry
from toro_django.results import to_task_result

if TYPE_CHECKING:
    from toro_django.compat import Task, TaskResult


class TaskBackend(BaseTaskBackend):  # type: ignore[misc]
    """Django's Tasks on toro (see the module docstring)."""

    supports_defer = True
    supports_async_task = True
    supports_get_result = True
    supports_priority = True

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        options = self.options
        self.database: str = options.get("DATABASE", "default")
        self.database_url: str | None = options.get("DATABASE_URL")
        self.registry = TaskRegistry(options.get("MODULES", ()))
        self._app: Toro | None = None
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- the toro app

    @property
    def toro(self) -> Toro:
        """The toro app of this backend: the installed plugins (entry points), on the
        backend's database."""
        with self._lock:
            if self._app is None:
                self._app = Toro(self.database_url or conninfo(self.database))
            return self._app

    # ---------------------------------------------------------------- the interface

    def enqueue(self, task: Task, args: Any, kwargs: Any) -> TaskResult:
        """Insert the task's job on Django's connection; return its ``TaskResult`` (READY)."""
        self.validate_task(task)
        self.registry.check(task)
        worker: type[Worker] = self.registry.worker_for(task)
        timing: dict[str, Any] = {}
        if task.run_after is not None:
            when = as_utc(task.run_after)
            timing = {"status": "scheduled" if when > utcnow() else "queued", "scheduled_at": when}
        job = self.toro.client.enqueue(
            worker,
            tuple(args),
            dict(kwargs),
            connection=psycopg_connection(self.database),
            queue=task.queue_name,
            priority=task.priority,
            **timing,
        )
        result = to_task_result(task, job, backend=self.alias, app=self.toro)
        task_enqueued.send(type(self), task_result=result)
        return result

    def get_result(self, result_id: str) -> TaskResult:
        """The task result with this id (a toro job id), read now on Django's connection.

        ``TaskResultDoesNotExist`` when no job has this id, or the job is not one of this
        project's tasks (a plain toro job, or a task module no longer listed).
        """
        try:
            job_id = int(result_id)
        except (TypeError, ValueError):
            raise TaskResultDoesNotExist(f"no task result {result_id!r}") from None
        store = CoreSyncStore(connection=psycopg_connection(self.database))
        job = store.get_job(job_id)
        if job is None:
            raise TaskResultDoesNotExist(f"no task result {result_id!r}")
        task = self.registry.task_named(job.class_name)
        if task is None:
            raise TaskResultDoesNotExist(
                f"job {job_id} ({job.class_name}) is not a task of this project's task modules"
            )
        return to_task_result(task, job, backend=self.alias, app=self.toro)

    # aenqueue and aget_result: Django's own, which run the above through
    # sync_to_async(thread_sensitive=True), on the connection (and transaction) that the
    # thread-sensitive sync code of the request uses.
