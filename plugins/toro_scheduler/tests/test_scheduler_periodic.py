"""toro-scheduler end to end: periodic ticks across processes, catch-up, database outages.

Worker processes are started as users start them (``toro-core start -r module``) with only the
scheduler plugin. Ticks are read from ``toro_schedule_ticks`` and compared with the jobs.
"""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta

import pytest
import toro_scheduler.plugin
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from scheduler_workers import Stamp
from scheduler_workers_catchup import CATCH_UP

from toro_core.testing import TcpProxy, as_default, rows, scalar, wait_for

pytestmark = pytest.mark.slow

PERIODIC = "scheduler_workers_periodic.EverySecond"
CATCHING_UP = "scheduler_workers_catchup.EverySecondCatchUp"
ONE_SECOND = timedelta(seconds=1)
#: How long the catch-up test leaves the schedule without any worker (the issue's 30 s).
STOPPED = 30


def ticks(conninfo: str, schedule: str) -> list[tuple]:
    """(tick_at, job_id, enqueued_by, enqueued_at) of ``schedule``, in tick order."""
    return rows(
        conninfo,
        "SELECT tick_at, job_id, enqueued_by, enqueued_at FROM toro_schedule_ticks "
        "WHERE schedule = %s ORDER BY tick_at",
        (schedule,),
    )


def jobs(conninfo: str, class_name: str) -> list[tuple]:
    """(id, scheduled_at, tick property, status) of the jobs of ``class_name``."""
    return rows(
        conninfo,
        "SELECT id, scheduled_at, properties ->> 'schedule:tick', status FROM toro_jobs "
        "WHERE class_name = %s ORDER BY scheduled_at, id",
        (class_name,),
    )


def assert_one_job_per_tick(conninfo: str, schedule: str) -> list[tuple]:
    """Every recorded tick has its own job, and every job of the class has its tick."""
    recorded = ticks(conninfo, schedule)
    enqueued = jobs(conninfo, schedule)
    assert [job[1] for job in enqueued] == [tick[0] for tick in recorded]
    assert [job[0] for job in enqueued] == [tick[1] for tick in recorded]
    assert len({job[0] for job in enqueued}) == len(enqueued)
    for job in enqueued:
        assert datetime.fromisoformat(job[2]) == job[1]
    return recorded


def assert_consecutive(times: list[datetime]) -> None:
    gaps = [(a, b) for a, b in itertools.pairwise(times) if b - a != ONE_SECOND]
    assert not gaps, f"ticks missing between {gaps}"


def test_three_workers_enqueue_every_tick_exactly_once(toro_db, start_worker):
    handles = [
        start_worker(
            "-r", "scheduler_workers_periodic", "-c", "4", plugins=["scheduler"], wait_ready=False
        )
        for _ in range(3)
    ]
    for handle in handles:
        wait_for(lambda h=handle: "running: queues" in h.log(), timeout=30)
    time.sleep(10)
    for handle in handles:
        assert handle.stop() == 0, handle.log()

    recorded = assert_one_job_per_tick(toro_db, PERIODIC)
    times = [tick[0] for tick in recorded]
    assert len(times) >= 9, times
    assert_consecutive(times)  # every second from the first tick to the last
    assert all(tick[1] is not None for tick in recorded)
    # all three processes raced for the ticks; the key let one of them have each
    enqueuers = {tick[2] for tick in recorded}
    assert 1 <= len(enqueuers) <= 3
    assert scalar(toro_db, "SELECT count(*) FROM toro_jobs WHERE status = 'failed'") == 0
    assert scalar(toro_db, "SELECT array_agg(DISTINCT args) FROM toro_jobs")[0] == ["tick"]


def test_missed_ticks_inside_the_window_are_caught_up_once(toro_db, start_worker):
    first = start_worker("-r", "scheduler_workers_catchup", plugins=["scheduler"])
    wait_for(lambda: len(ticks(toro_db, CATCHING_UP)) >= 3, timeout=15)
    assert first.stop() == 0
    last_before = ticks(toro_db, CATCHING_UP)[-1][0]

    time.sleep(STOPPED)  # no worker at all: the schedule's ticks are missed

    restart = datetime.now(UTC)
    again = [
        start_worker("-r", "scheduler_workers_catchup", plugins=["scheduler"], wait_ready=False)
        for _ in range(2)
    ]
    wait_for(
        lambda: scalar(
            toro_db,
            "SELECT count(*) FROM toro_schedule_ticks WHERE tick_at > %s",
            (restart + 2 * ONE_SECOND,),
        ),
        timeout=30,
    )
    # the caught-up jobs run like any other
    wait_for(
        lambda: (
            scalar(
                toro_db,
                "SELECT count(*) FROM toro_jobs WHERE status <> 'complete' AND scheduled_at < %s",
                (restart,),
            )
            == 0
        ),
        timeout=15,
    )
    for handle in again:
        assert handle.stop() == 0, handle.log()

    recorded = assert_one_job_per_tick(toro_db, CATCHING_UP)
    after = [tick for tick in recorded if tick[0] > last_before]
    # The restarted workers read the clock between `restart` and the start of their first
    # statement (`caught_at`, the earliest enqueued_at), and caught up the ticks of the
    # CATCH_UP seconds before that moment.
    caught_at = min(tick[3] for tick in after)
    caught = [tick[0] for tick in after if tick[0] <= caught_at]
    # Older than the window: not enqueued.
    assert caught[0] >= restart - timedelta(seconds=CATCH_UP)
    # Inside the window: every one of them, once (and then every tick after).
    assert caught[0] <= caught_at - timedelta(seconds=CATCH_UP) + ONE_SECOND
    assert_consecutive([tick[0] for tick in after])
    assert len(caught) >= CATCH_UP - 1, caught
    skipped = (caught[0] - last_before).total_seconds() - 1
    assert skipped >= STOPPED - CATCH_UP - 2
    logs = "".join(handle.log() for handle in again)
    assert "skipped" in logs and f"older than its catch-up window of {CATCH_UP}s" in logs


def test_services_survive_a_database_outage(make_app, toro_db, start_worker):
    parts = conninfo_to_dict(toro_db)
    proxy = TcpProxy(parts.get("host") or "127.0.0.1", int(parts.get("port") or 5432))
    try:
        proxied = make_conninfo(toro_db, host="127.0.0.1", port=str(proxy.port))
        worker = start_worker(
            "-r",
            "scheduler_workers",
            "-r",
            "scheduler_workers_catchup",
            plugins=["scheduler"],
            env={"TORO_DATABASE_URL": proxied},
        )
        wait_for(lambda: len(ticks(toro_db, CATCHING_UP)) >= 1, timeout=15)
        with as_default(make_app(plugins=[toro_scheduler.plugin])):
            job = Stamp.perform_in(1, "through the outage")  # the test reaches the database
        proxy.cut()
        time.sleep(3)  # the job comes due, and ticks pass, while the worker is cut off
        status = scalar(toro_db, "SELECT status FROM toro_jobs WHERE id = %s", (job.id,))
        assert status == "scheduled"
        cut_until = datetime.now(UTC)
        proxy.restore()
        wait_for(
            lambda: (
                scalar(toro_db, "SELECT status FROM toro_jobs WHERE id = %s", (job.id,))
                == "complete"
            ),
            timeout=20,
        )
        wait_for(
            lambda: scalar(
                toro_db, "SELECT count(*) FROM toro_schedule_ticks WHERE tick_at > %s", (cut_until,)
            ),
            timeout=20,
        )
        assert worker.popen.poll() is None
        assert worker.stop() == 0
    finally:
        proxy.close()
    # ticks due during the outage were enqueued when it ended (inside the catch-up window)
    recorded = assert_one_job_per_tick(toro_db, CATCHING_UP)
    assert_consecutive([tick[0] for tick in recorded])
    assert "promoting scheduled jobs failed" in worker.log()
