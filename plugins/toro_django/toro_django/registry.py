"""Which Django tasks toro runs, and the toro worker class that stands for each.

A toro job names a Django task by the task's ``module_path`` (``shop.tasks.send_receipt``) in
``toro_jobs.class_name``, so the monitor, ``toro-core jobs list --worker`` and SQL show it as
it is called in the project. Only functions in the project's **task modules** are tasks:

* ``<app>.tasks`` of every installed app that has one (Django's habit, as for ``admin``);
* the modules listed in the backend's ``OPTIONS["MODULES"]``.

An enqueue of a task defined elsewhere is refused (``InvalidTask``, nothing written), and the
worker (``manage.py toro_worker``) imports exactly these modules at start, defines one worker
class per task found in them, and imports nothing a job row names: a row naming any other
module fails with a readable error and that module is never imported.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable, Sequence
from inspect import iscoroutinefunction
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import module_has_submodule

from toro_django.compat import InvalidTask, Task
from toro_django.worker import AsyncTaskWorker, SyncTaskWorker, TaskWorker

if TYPE_CHECKING:
    from toro_core import Worker

#: The submodule of an installed app that holds its tasks.
TASKS_MODULE = "tasks"


class TaskRegistry:
    """The task modules of one backend and the worker classes of their tasks."""

    def __init__(self, extra_modules: Iterable[str] = ()) -> None:
        extra = list(extra_modules)
        for name in extra:
            if not isinstance(name, str) or not name:
                raise ImproperlyConfigured(
                    f"toro_django: OPTIONS['MODULES'] lists module names, not {name!r}"
                )
        self.extra_modules = tuple(extra)
        self._workers: dict[str, type[TaskWorker]] = {}
        self._modules: list[str] | None = None
        self._lock = threading.Lock()

    def modules(self) -> list[str]:
        """The task modules: each installed app's ``tasks`` module, then ``MODULES`` (found
        once: the installed apps do not change while a process runs)."""
        if self._modules is None:
            found = [
                f"{config.name}.{TASKS_MODULE}"
                for config in apps.get_app_configs()
                if module_has_submodule(config.module, TASKS_MODULE)
            ]
            self._modules = list(dict.fromkeys([*found, *self.extra_modules]))
        return self._modules

    def check(self, task: Task) -> None:
        """Refuse a task whose function is not in a task module (``InvalidTask``)."""
        module = task.func.__module__
        if module not in self.modules():
            raise InvalidTask(
                f"task {task.module_path} is not in a task module of this project: define it "
                f"in an installed app's {TASKS_MODULE}.py, or list {module!r} in the backend's "
                "OPTIONS['MODULES'] (toro workers run only tasks of those modules)"
            )

    def worker_for(self, task: Task) -> type[Worker]:
        """The toro worker class of ``task``, named like it (made once per task)."""
        path = task.module_path
        with self._lock:
            worker = self._workers.get(path)
            if worker is None or worker._task is None or worker._task.func is not task.func:
                worker = self._workers[path] = _make_worker(task)
        return worker

    def task_named(self, class_name: str) -> Task | None:
        """The task a job row names, or ``None`` when it names none of the task modules'
        tasks. Only task modules are ever imported."""
        module_name, _, attribute = class_name.rpartition(".")
        if not module_name or module_name not in self.modules():
            return None
        candidate = getattr(importlib.import_module(module_name), attribute, None)
        return candidate if isinstance(candidate, Task) else None

    def discover(self, backends: Sequence[str]) -> list[Task]:
        """Import every task module and define the worker class of each task in them whose
        backend is one of ``backends``; return those tasks (what a worker can run)."""
        tasks: list[Task] = []
        for name in self.modules():
            try:
                module = importlib.import_module(name)
            except ImportError as exc:
                raise ImproperlyConfigured(
                    f"toro_django: task module {name!r} cannot be imported: {exc}"
                ) from exc
            for value in vars(module).values():
                if (
                    isinstance(value, Task)
                    and value.func.__module__ == name
                    and value.backend in backends
                ):
                    self.worker_for(value)
                    tasks.append(value)
        return tasks


def _make_worker(task: Task) -> type[TaskWorker]:
    module, _, name = task.module_path.rpartition(".")
    base: type[TaskWorker] = AsyncTaskWorker if iscoroutinefunction(task.func) else SyncTaskWorker
    namespace: dict[str, Any] = {
        "__module__": module,
        "__qualname__": name,
        "__doc__": f"The toro worker of the Django task {task.module_path}.",
        "_task": task,
        "queue": task.queue_name,
    }
    # Defining the class registers it in toro's catalog under the task's module path.
    return type(name, (base,), namespace)
