"""toro-django's Tasks backend in the web process: enqueue in Django's transaction, results.

Runs on Django 6 (``django.tasks``, Python 3.12+) and on the django-tasks backport (3.11)."""

from __future__ import annotations

import sys
from datetime import timedelta

import anyio
import psycopg
import pytest

from toro_core.testing import rows, scalar


def jobs(conninfo: str) -> list[tuple[object, ...]]:
    return rows(conninfo, "SELECT class_name, queue, priority, status FROM toro_jobs ORDER BY id")


def test_the_backend_declares_what_it_supports(django_db):
    from toro_django import TaskBackend
    from toro_django.compat import task_backends

    backend = task_backends["default"]
    assert isinstance(backend, TaskBackend)
    assert backend.supports_defer and backend.supports_async_task
    assert backend.supports_get_result and backend.supports_priority
    assert backend.queues == {"default", "other"}


def test_django_6_is_used_where_python_has_it(django_db):
    """Django 6's own ``django.tasks`` on Python 3.12 and later (CI runs the suite there too),
    the django-tasks backport on 3.11."""
    import django
    from toro_django.compat import SOURCE

    if sys.version_info >= (3, 12):
        assert SOURCE == "django.tasks" and django.VERSION[0] >= 6
    else:
        assert SOURCE == "django_tasks"


def test_a_rolled_back_transaction_leaves_no_task(django_db):
    from django.db import transaction
    from shop.models import Order
    from shop.tasks import add
    from toro_django.compat import TaskResultDoesNotExist, TaskResultStatus

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        Order.objects.create(item="rolled back")
        result = add.enqueue(1, 2)
        # inside the transaction the task exists, on Django's own connection...
        assert add.get_result(result.id).status == TaskResultStatus.READY
        # ...and nowhere else yet
        assert scalar(django_db, "SELECT count(*) FROM toro_jobs") == 0
        raise Abort
    assert scalar(django_db, "SELECT count(*) FROM toro_jobs") == 0
    assert not Order.objects.exists()
    with pytest.raises(TaskResultDoesNotExist):
        add.get_result(result.id)

    with transaction.atomic():
        Order.objects.create(item="committed")
        committed = add.enqueue(2, 3)
    assert jobs(django_db) == [("shop.tasks.add", "default", 0, "queued")]
    assert committed.status == TaskResultStatus.READY
    assert committed.args == [2, 3] and committed.kwargs == {}
    assert int(committed.id) == scalar(django_db, "SELECT id FROM toro_jobs")

    outside = add.enqueue(3, 4)  # autocommit: written at once
    assert scalar(django_db, "SELECT count(*) FROM toro_jobs WHERE id = %s", (int(outside.id),))


def test_priority_queue_and_run_after_become_the_jobs_columns(django_db):
    from django.utils import timezone
    from shop.tasks import add, slow
    from toro_django.compat import TaskResultStatus

    when = timezone.now() + timedelta(hours=1)
    later = add.using(priority=50, run_after=when).enqueue(1, b=2)
    slow.enqueue(0.1)
    assert jobs(django_db) == [
        ("shop.tasks.add", "default", 50, "scheduled"),
        ("shop.tasks.slow", "other", -5, "queued"),
    ]
    assert (
        scalar(django_db, "SELECT scheduled_at FROM toro_jobs WHERE id = %s", (int(later.id),))
        == when
    )
    assert later.status == TaskResultStatus.READY and later.kwargs == {"b": 2}


def test_only_tasks_of_task_modules_are_enqueued(django_db):
    from shop.elsewhere import stray
    from shop.jobs import shout
    from toro_django.compat import InvalidTask

    assert shout.enqueue("hi").status  # listed in OPTIONS["MODULES"]
    with pytest.raises(InvalidTask, match=r"task shop\.elsewhere\.stray is not in a task module"):
        stray.enqueue()
    assert scalar(django_db, "SELECT count(*) FROM toro_jobs") == 1


def test_arguments_must_be_json(django_db):
    from shop.tasks import add

    with pytest.raises(TypeError, match=r"argument 0 is a builtins\.object, not a JSON value"):
        add.enqueue(object(), 1)
    assert scalar(django_db, "SELECT count(*) FROM toro_jobs") == 0


def test_get_result_of_unknown_or_foreign_jobs(django_db, tmp_path, monkeypatch):
    import sys

    from shop.tasks import add
    from toro_django.compat import TaskResultDoesNotExist

    with pytest.raises(TaskResultDoesNotExist):
        add.get_result("12345")
    with pytest.raises(TaskResultDoesNotExist):
        add.get_result("not a number")
    marker = tmp_path / "imported"
    monkeypatch.setenv("TORO_TEST_IMPORT_MARKER", str(marker))
    with psycopg.connect(django_db, autocommit=True) as conn:
        foreign = conn.execute(
            "INSERT INTO toro_jobs (class_name) VALUES ('shop.evil.boom') RETURNING id"
        ).fetchone()
    assert foreign is not None
    with pytest.raises(TaskResultDoesNotExist, match="not a task of this project's task modules"):
        add.get_result(str(foreign[0]))
    assert not marker.exists() and "shop.evil" not in sys.modules


def test_aenqueue_and_aget_result_share_the_requests_transaction(django_db):
    from asgiref.sync import async_to_sync
    from django.db import transaction
    from shop.tasks import async_add
    from toro_django.compat import TaskResultStatus

    async def main() -> str:
        result = await async_add.aenqueue(20, 22)
        fetched = await async_add.aget_result(result.id)
        assert fetched.status == TaskResultStatus.READY
        await result.arefresh()
        return str(result.id)

    job_id = anyio.run(main)
    assert scalar(django_db, "SELECT class_name FROM toro_jobs WHERE id = %s", (int(job_id),)) == (
        "shop.tasks.async_add"
    )

    # aenqueue from async code called inside a transaction runs on that transaction's
    # connection (Django's thread-sensitive sync_to_async), so it rolls back with it
    with pytest.raises(RuntimeError), transaction.atomic():
        async_to_sync(async_add.aenqueue)(1, 1)
        raise RuntimeError("roll back")
    assert scalar(django_db, "SELECT count(*) FROM toro_jobs") == 1
