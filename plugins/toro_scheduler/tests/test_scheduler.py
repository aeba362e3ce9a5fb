"""toro-scheduler: periodic schedule options, triggers and the ``schedules`` CLI."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import toro_scheduler.plugin
from scheduler_workers import Stamp
from toro_scheduler.schedules import find_schedules, schedule_of
from toro_scheduler.triggers import CronTrigger, IntervalTrigger, ticks_between

from toro_core.errors import UnknownOptionError
from toro_core.testing import as_default, run_toro

#: tests/ at the repository's root: scheduler_workers*.py, shared with the kernel's tests
SHARED = Path(__file__).resolve().parents[3] / "tests"


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


# ------------------------------------------------------------------------ CLI


def run_cli(toro_db: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_toro(*args, database_url=toro_db, plugins=["scheduler"], paths=[str(SHARED)])


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
