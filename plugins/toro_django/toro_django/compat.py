"""Django's Tasks interface from ``django.tasks`` (Django 6) or the ``django_tasks`` backport.

The backport (Python 3.11, Django 4.2 to 5.2) has the same classes; only the invalid-task error
is named differently (``InvalidTaskError`` there, ``InvalidTask`` in Django). Everything else
in toro-django imports these names from here, and a project that supports both can too
(``from toro_django.compat import task``).
"""

from __future__ import annotations

from typing import Any

try:
    from django.tasks import (
        DEFAULT_TASK_QUEUE_NAME,
        Task,
        TaskContext,
        TaskResult,
        TaskResultStatus,
        task,
        task_backends,
    )
    from django.tasks.backends.base import BaseTaskBackend
    from django.tasks.base import TaskError
    from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist
    from django.tasks.signals import task_enqueued, task_finished, task_started
    from django.utils.json import normalize_json

    SOURCE = "django.tasks"
except ImportError:  # Django before 6: the backport
    from django_tasks import (
        DEFAULT_TASK_QUEUE_NAME,
        TaskContext,
        TaskResult,
        TaskResultStatus,
        task,
        task_backends,
    )
    from django_tasks.backends.base import BaseTaskBackend
    from django_tasks.base import Task, TaskError
    from django_tasks.exceptions import InvalidTaskError as InvalidTask
    from django_tasks.exceptions import TaskResultDoesNotExist
    from django_tasks.signals import task_enqueued, task_finished, task_started
    from django_tasks.utils import normalize_json

    SOURCE = "django_tasks"


def set_return_value(result: Any, value: Any) -> None:
    """Store ``value`` as a (frozen) ``TaskResult``'s return value, as Django's backends do."""
    object.__setattr__(result, "_return_value", value)


__all__ = [
    "DEFAULT_TASK_QUEUE_NAME",
    "SOURCE",
    "BaseTaskBackend",
    "InvalidTask",
    "Task",
    "TaskContext",
    "TaskError",
    "TaskResult",
    "TaskResultDoesNotExist",
    "TaskResultStatus",
    "normalize_json",
    "set_return_value",
    "task",
    "task_backends",
    "task_enqueued",
    "task_finished",
    "task_started",
]
