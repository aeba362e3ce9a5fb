"""toro-scheduler: perform_in / perform_at, their input rules, the status, triggers, the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import toro_scheduler.plugin
from scheduler_workers import Stamp
from toro_scheduler.schedules import find_schedules, schedule_of
from toro_scheduler.timing import as_utc, interval_seconds
from toro_scheduler.triggers import CronTrigger, IntervalTrigger, ticks_between

from toro_core.errors import ConfigurationError, UnknownOptionError
from toro_core.testing import as_default, rows, scalar, wait_for

HERE = Path(__file__).parent


@pytest.fixture
def scheduler_app(make_app):
    """An app with the scheduler plugin, installed as the process default."""
    with as_default(make_app(plugins=[toro_scheduler.plugin])) as app:
        yield app


def job_row(conninfo: str, job_id: int) -> dict:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        cur = conn.execute(
            "SELECT status, scheduled_at, started_at, now() AS db_now FROM toro_jobs WHERE id = %s",
            (job_id,),
        )
        names = [c.name for c in cur.description]
        return dict(zip(names, cur.fetchone(), strict=True))


# ------------------------------------------------------------------------ input rules (no I/O)


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


def test_cron_trigger_seconds_first_and_time_zone():
    start = datetime(2026, 1, 1, 0, 0, 4, 500_000, tzinfo=UTC)
    every_five = CronTrigger("*/5 * * * * *")
    assert list(ticks_between(every_five, start, start + timedelta(seconds=11))) == [
        datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC),
        datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC),
        datetime(2026, 1, 1, 0, 0, 15, tzinfo=UTC),
    ]
    # 5 fields: minute precision; strictly after the given moment
    assert CronTrigger("* * * * *").next_after(datetime(2026, 1, 1, 0, 1, tzinfo=UTC)) == datetime(
        2026, 1, 1, 0, 2, tzinfo=UTC
    )
    # 07:00 in Paris is 06:00 UTC in winter and 05:00 UTC in summer
    seven = CronTrigger("0 7 * * *", "Europe/Paris")
    assert seven.next_after(datetime(2026, 1, 10, tzinfo=UTC)).hour == 6
    assert seven.next_after(datetime(2026, 7, 10, tzinfo=UTC)).hour == 5
    with pytest.raises(ValueError, match="fields"):
        CronTrigger("* * *")
    with pytest.raises(ValueError, match="not valid"):
        CronTrigger("61 * * * *")
    with pytest.raises(ValueError, match="unknown time zone"):
        CronTrigger("* * * * *", "Mars/Olympus")


def test_interval_trigger_is_aligned_to_the_epoch():
    every_ten = IntervalTrigger(10)
    # two processes that start at different moments compute the same ticks
    a = every_ten.next_after(datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC))
    b = every_ten.next_after(datetime(2026, 1, 1, 0, 0, 9, 999_999, tzinfo=UTC))
    assert a == b == datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC)
    assert every_ten.next_after(a) == datetime(2026, 1, 1, 0, 0, 20, tzinfo=UTC)
    with pytest.raises(ValueError, match="at least 1 second"):
        IntervalTrigger(0.5)


def test_schedule_options_are_checked(scheduler_app):
    from toro_core import Worker

    class Misspelt(Worker):
        schedule = "* * * * *"
        schedule_timezon = "Europe/Paris"

    class BadCron(Worker):
        schedule = "every day"

    class Fine(Worker):
        schedule = timedelta(minutes=5)
        schedule_catch_up = timedelta(seconds=30)

    found, errors = find_schedules(scheduler_app, [Misspelt, BadCron, Fine, Stamp])
    assert [s.worker for s in found] == [Fine]
    assert found[0].catch_up == 30 and found[0].trigger == IntervalTrigger(300)
    assert any("schedule_timezon" in e and "did you mean 'schedule_timezone'" in e for e in errors)
    assert any("BadCron" in e and "fields" in e for e in errors)
    with pytest.raises(ValueError, match="schedule must be"):
        schedule_of(type("Odd", (Worker,), {"schedule": ["x"]}))


def test_schedule_options_need_the_plugin(toro_app):
    import scheduler_workers_periodic

    with pytest.raises(UnknownOptionError, match="schedule"):
        toro_app.check_worker(scheduler_workers_periodic.EverySecond)


# ------------------------------------------------------------------------ status and errors


def test_scheduled_status_is_registered(scheduler_app):
    status = scheduler_app.statuses["scheduled"]
    assert status.label == "Scheduled" and not status.final
    assert scheduler_app.statuses.owners["scheduled"] != "core"


def test_perform_in_without_the_package_names_it(scheduler_app, monkeypatch):
    monkeypatch.setitem(sys.modules, "toro_scheduler.enqueue", None)
    with pytest.raises(ImportError, match="pip install toro-scheduler"):
        Stamp.perform_in(5)
    with pytest.raises(ImportError, match="toro-scheduler"):
        asyncio.run(Stamp.aperform_at(datetime.now(UTC)))


def test_perform_in_with_the_plugin_inactive_says_so(toro_app):
    with pytest.raises(ConfigurationError, match="'scheduler' entry point"):
        Stamp.perform_in(5)


def test_bad_input_is_refused_before_any_write(scheduler_app, toro_db):
    with pytest.raises(ValueError, match="negative"):
        Stamp.perform_in(-3)
    with pytest.raises(TypeError, match="expected a datetime"):
        Stamp.perform_at(time.time())
    with pytest.raises(TypeError, match="JSON"):
        Stamp.perform_in(5, object())
    assert scalar(toro_db, "SELECT count(*) FROM toro_jobs") == 0


# ------------------------------------------------------------------------ storing


def test_future_is_scheduled_past_is_queued(scheduler_app, toro_db):
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


def test_perform_in_joins_the_callers_transaction(scheduler_app, toro_db):
    with psycopg.connect(toro_db) as conn:
        job = Stamp.perform_in(60, "rolled back", connection=conn)
        assert job.status == "scheduled"
        conn.rollback()
    assert scalar(toro_db, "SELECT count(*) FROM toro_jobs") == 0


def test_async_twins(scheduler_app, toro_db):
    async def main():
        try:
            a = await Stamp.aperform_in(timedelta(seconds=90), "a")
            b = await Stamp.aperform_at(datetime.now(UTC) + timedelta(minutes=3), "b")
            c = await Stamp.aperform_at(datetime.now(UTC) - timedelta(minutes=3), "c")
            return a, b, c
        finally:
            await scheduler_app.aclient.close()

    a, b, c = asyncio.run(main())
    assert (a.status, b.status, c.status) == ("scheduled", "scheduled", "queued")
    assert rows(toro_db, "SELECT status FROM toro_jobs ORDER BY id") == [
        ("scheduled",), ("scheduled",), ("queued",)
    ]


# ------------------------------------------------------------------------ worker processes


def test_perform_in_runs_no_earlier_and_about_a_second_after(scheduler_app, toro_db, start_worker):
    worker = start_worker("-r", "scheduler_workers", "-c", "2", plugins=["scheduler"])
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


def test_perform_at_in_the_past_runs_at_once(scheduler_app, toro_db, start_worker):
    start_worker("-r", "scheduler_workers", plugins=["scheduler"])
    enqueued = time.monotonic()
    job = Stamp.perform_at(datetime.now(UTC) - timedelta(days=1), "overdue")
    assert job.status == "queued"
    wait_for(lambda: job_row(toro_db, job.id)["status"] == "complete", timeout=10)
    assert time.monotonic() - enqueued < 2.0


# ------------------------------------------------------------------------ CLI


def run_cli(toro_db: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(
        TORO_DATABASE_URL=toro_db,
        TORO_PLUGINS="scheduler",
        PYTHONPATH=os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]),
    )
    return subprocess.run(
        [sys.executable, "-m", "toro_core", *args],
        env=env, capture_output=True, text=True, timeout=60,
    )


def test_cli_lists_schedules_and_upcoming_jobs(scheduler_app, toro_db):
    Stamp.perform_in(timedelta(hours=1), "soon")
    done = run_cli(toro_db, "schedules", "-r", "scheduler_workers_periodic", "-n", "2")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "scheduler_workers_periodic.EverySecond" in out
    assert "cron '* * * * * *' (Europe/Paris)" in out
    assert out.count("next ") == 2
    assert "1 upcoming scheduled job(s)" in out and "scheduler_workers.Stamp" in out

    as_json = run_cli(toro_db, "schedules", "-r", "scheduler_workers_periodic", "--json")
    report = json.loads(as_json.stdout)
    (entry,) = report["schedules"]
    assert entry["kind"] == "cron" and entry["loaded_here"] and len(entry["next_runs"]) == 3
    assert [job["args"] for job in report["scheduled_jobs"]] == [["soon"]]
