"""``manage.py toro_worker`` running the test project's Django tasks on real PostgreSQL."""

from __future__ import annotations

import sys
from datetime import timedelta

import psycopg
import pytest

from toro_core.testing import rows, scalar, wait_for


def backend():
    from toro_django.compat import task_backends

    return task_backends["default"]


def finished(result):
    """``result`` refreshed once its job is final (waiting by toro's app.wait)."""
    from toro_core import ToroError

    try:
        backend().toro.wait(int(result.id), timeout=30)
    except ToroError:
        pass  # failed or cancelled: the result says so
    result.refresh()
    return result


def test_committed_task_runs_and_get_result_returns_its_value(django_db, django_worker):
    from django.db import transaction
    from shop.models import Order
    from shop.tasks import add, async_add, place_order
    from toro_django.compat import TaskResultStatus

    with transaction.atomic():
        summed = add.enqueue(2, b=3)
        placed = place_order.enqueue("book")
    awaited = async_add.enqueue(40, 2)
    worker = django_worker("-c", "4")
    assert "toro_worker: tasks shop.jobs.shout, shop.tasks.add" in worker.log()
    for result, value in ((summed, 5), (awaited, 42)):
        finished(result)
        assert result.status == TaskResultStatus.SUCCESSFUL
        assert result.return_value == value
        assert result.is_finished and result.attempts == 1 and result.errors == []
        assert result.started_at <= result.finished_at
    fetched = add.get_result(summed.id)
    assert fetched.return_value == 5 and fetched.status == TaskResultStatus.SUCCESSFUL
    order_id = finished(placed).return_value
    assert Order.objects.get(id=order_id).item == "book"  # the ORM works inside tasks
    assert worker.stop() == 0


def test_a_failing_task_carries_its_error(django_db, django_worker):
    from shop.tasks import fail, returns_a_set
    from toro_django.compat import TaskResultStatus

    failing = fail.enqueue("out of <paper>")
    odd = returns_a_set.enqueue()
    django_worker("-c", "2")
    result = finished(failing)
    assert result.status == TaskResultStatus.FAILED
    assert [error.exception_class_path for error in result.errors] == ["builtins.ValueError"]
    assert result.errors[0].exception_class is ValueError
    assert "out of <paper>" in result.errors[0].traceback
    assert "raise ValueError(message)" in result.errors[0].traceback
    with pytest.raises(ValueError, match="Task failed"):
        result.return_value  # noqa: B018
    # Django's rule: a return value must be JSON, or the task fails
    odd_result = finished(odd)
    assert odd_result.status == TaskResultStatus.FAILED
    assert "returned a builtins.set value; a task's return value must be JSON" in (
        odd_result.errors[-1].traceback
    )


def test_priority_is_honoured(django_db, django_worker):
    from shop.models import Run
    from shop.tasks import record

    for label, priority in (("low", -10), ("normal", 0), ("urgent", 90), ("high", 20)):
        record.using(priority=priority).enqueue(label)
    django_worker("-c", "1")
    wait_for(lambda: Run.objects.count() == 4)
    assert list(Run.objects.order_by("id").values_list("label", flat=True)) == [
        "urgent",
        "high",
        "normal",
        "low",
    ]


def test_run_after_is_honoured(django_db, django_worker):
    from django.utils import timezone
    from shop.tasks import add
    from toro_django.compat import TaskResultStatus

    django_worker("-c", "2")
    when = timezone.now() + timedelta(seconds=1.5)
    later = add.using(run_after=when).enqueue(1, 1)
    now = add.enqueue(2, 2)
    assert finished(now).return_value == 4
    later.refresh()
    assert later.status == TaskResultStatus.READY  # not due yet
    result = finished(later)
    assert result.return_value == 2
    assert result.started_at >= when


def test_takes_context_gets_the_attempt_and_its_result_id(django_db, django_worker):
    from shop.tasks import whoami

    result = whoami.enqueue(7)
    django_worker()
    assert finished(result).return_value == {"attempt": 1, "id": result.id, "x": 7}


def test_cancelled_maps_to_failed_with_a_cancel_error(django_db):
    from shop.tasks import add
    from toro_django.compat import TaskResultStatus

    result = add.enqueue(1, 1)
    assert backend().toro.cancel(int(result.id), by="ops") == {int(result.id): "cancelled"}
    result.refresh()
    assert result.status == TaskResultStatus.FAILED
    error = result.errors[-1]
    assert error.exception_class_path == "toro_core.errors.JobCancelled"
    assert f"job {result.id} was cancelled by ops" in error.traceback


def test_the_worker_imports_no_module_a_job_names(django_db, django_worker, tmp_path):
    marker = tmp_path / "imported"
    with psycopg.connect(django_db, autocommit=True) as conn:
        for name in ("shop.evil.boom", "os.system", "toro_django.worker.SyncTaskWorker"):
            conn.execute("INSERT INTO toro_jobs (class_name) VALUES (%s)", (name,))
    worker = django_worker(env={"TORO_TEST_IMPORT_MARKER": str(marker)})
    wait_for(
        lambda: scalar(django_db, "SELECT count(*) FROM toro_jobs WHERE status = 'failed'") == 3
    )
    messages = dict(
        rows(django_db, "SELECT class_name, properties->>'error:message' FROM toro_jobs")
    )
    assert messages["shop.evil.boom"].startswith(
        "worker class 'shop.evil.boom': module 'shop.evil' is not loaded in this worker "
        "process, and a job cannot make a worker import a module"
    )
    assert messages["os.system"] == "'os.system' is not a toro Worker subclass"
    assert messages["toro_django.worker.SyncTaskWorker"] == (
        "SyncTaskWorker is not the worker of a Django task"
    )
    assert not marker.exists()
    assert worker.stop() == 0
    assert "shop.evil" not in sys.modules


def test_bad_worker_options_are_clear_errors(django_db):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="no task backend 'nope'"):
        call_command("toro_worker", "--backend", "nope")
    with pytest.raises(CommandError, match="concurrency must be between 1 and 1000"):
        call_command("toro_worker", "-c", "0")


def test_the_django_worker_takes_the_retention_options(django_db):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="argument --keep-complete: 'soon' is not a duration"):
        call_command("toro_worker", "--keep-complete", "soon")
    with pytest.raises(CommandError, match="argument --keep-failed: '0s' would delete jobs"):
        call_command("toro_worker", "--keep-failed", "0s")
