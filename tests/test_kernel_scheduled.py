"""Jobs that run later: ``perform_in`` / ``perform_at``, the ``scheduled`` status and the
promoter of every worker process (the kernel's, no plugin needed)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from scheduler_workers import Stamp

from toro_core.testing import rows, scalar, wait_for
from toro_core.timing import as_utc, interval_seconds


def job_row(conninfo: str, job_id: int) -> dict:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        cur = conn.execute(
            "SELECT status, scheduled_at, started_at, now() AS db_now FROM toro_jobs WHERE id = %s",
            (job_id,),
        )
        names = [c.name for c in cur.description]
        return dict(zip(names, cur.fetchone(), strict=True))


def test_interval_rules():
    assert interval_seconds(2) == 2.0
    assert interval_seconds(timedelta(minutes=1, milliseconds=500)) == 60.5
    assert interval_seconds(0) == 0.0
    with pytest.raises(ValueError, match="negative"):
        interval_seconds(-1)
    with pytest.raises(ValueError, match="finite"):
        interval_seconds(float("nan"))
    for bad in ("10", True, None, datetime.now(UTC)):
        with pytest.raises(TypeError, match=r"seconds or a datetime\.timedelta"):
            interval_seconds(bad)


def test_moment_rules():
    aware = datetime(2030, 1, 1, 10, tzinfo=UTC) + timedelta(hours=0)
    paris = aware.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))
    assert as_utc(paris) == aware and as_utc(paris).tzinfo is UTC
    assert as_utc(datetime(2030, 1, 1, 10)) == aware  # naive is read as UTC
    with pytest.raises(TypeError, match="perform_in"):
        as_utc(1_900_000_000)
    with pytest.raises(TypeError, match="a date has no time"):
        as_utc(date(2030, 1, 1))
    with pytest.raises(TypeError, match="expected a datetime"):
        as_utc("2030-01-01")


def test_scheduled_status_is_the_kernels(toro_app):
    """Jobs waiting for their time need no plugin: the kernel owns the status and promotes."""
    status = toro_app.statuses["scheduled"]
    assert status.label == "Scheduled" and not status.final
    assert toro_app.statuses.owners["scheduled"] == "core"


def test_bad_input_is_refused_before_any_write(toro_app, toro_db):
    with pytest.raises(ValueError, match="negative"):
        Stamp.perform_in(-3)
    with pytest.raises(TypeError, match="expected a datetime"):
        Stamp.perform_at(time.time())
    with pytest.raises(TypeError, match="JSON"):
        Stamp.perform_in(5, object())
    assert scalar(toro_db, "SELECT count(*) FROM toro_jobs") == 0


def test_future_is_scheduled_past_is_queued(toro_app, toro_db):
    later = Stamp.perform_in(timedelta(hours=1), "later")
    assert later.status == "scheduled"
    assert abs((later.scheduled_at - datetime.now(UTC)).total_seconds() - 3600) < 5
    naive = Stamp.perform_at(datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=2))
    assert naive.status == "scheduled"
    assert abs((naive.scheduled_at - datetime.now(UTC)).total_seconds() - 7200) < 5
    past = Stamp.perform_at(datetime(2020, 5, 1, 12, tzinfo=UTC), "past")
    assert past.status == "queued" and past.scheduled_at == datetime(2020, 5, 1, 12, tzinfo=UTC)
    now = Stamp.perform_in(0)
    assert now.status == "queued"


def test_perform_in_joins_the_callers_transaction(toro_app, toro_db):
    with psycopg.connect(toro_db) as conn:
        job = Stamp.set(connection=conn).perform_in(60, "rolled back")
        assert job.status == "scheduled"
        conn.rollback()
    assert scalar(toro_db, "SELECT count(*) FROM toro_jobs") == 0


def test_async_twins(toro_app, toro_db):
    async def main():
        try:
            a = await Stamp.aperform_in(timedelta(seconds=90), "a")
            b = await Stamp.aperform_at(datetime.now(UTC) + timedelta(minutes=3), "b")
            c = await Stamp.aperform_at(datetime.now(UTC) - timedelta(minutes=3), "c")
            return a, b, c
        finally:
            await toro_app.aclient.close()

    a, b, c = asyncio.run(main())
    assert (a.status, b.status, c.status) == ("scheduled", "scheduled", "queued")
    assert rows(toro_db, "SELECT status FROM toro_jobs ORDER BY id") == [
        ("scheduled",),
        ("scheduled",),
        ("queued",),
    ]


def test_perform_in_runs_no_earlier_and_about_a_second_after(toro_app, toro_db, start_worker):
    worker = start_worker("-r", "scheduler_workers", "-c", "2")
    job = Stamp.perform_in(2, "on time")
    assert job.status == "scheduled"
    due = job.scheduled_at
    # not run before its time: still scheduled a moment before it is due
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds() - 0.3))
    assert job_row(toro_db, job.id)["status"] == "scheduled"
    wait_for(lambda: job_row(toro_db, job.id)["status"] == "complete", timeout=10)
    row = job_row(toro_db, job.id)
    late = (row["started_at"] - row["scheduled_at"]).total_seconds()
    assert 0 <= late < 1.0, f"started {late:.3f}s after its time"
    assert worker.popen.poll() is None


def test_perform_at_in_the_past_runs_at_once(toro_app, toro_db, start_worker):
    start_worker("-r", "scheduler_workers")
    enqueued = time.monotonic()
    job = Stamp.perform_at(datetime.now(UTC) - timedelta(days=1), "overdue")
    assert job.status == "queued"
    wait_for(lambda: job_row(toro_db, job.id)["status"] == "complete", timeout=10)
    assert time.monotonic() - enqueued < 2.0
