"""The kernel end to end: workers started through the CLI against a real PostgreSQL."""

from __future__ import annotations

import psycopg
import pytest
from workers_basic import (
    Fails,
    Named,
    Noop,
    OwnTimeoutError,
    RecordOnce,
    SleepAsync,
    SleepSync,
    SlowWithTimeout,
    SwallowsCancel,
)

from toro_core.testing import rows, scalar, wait_for


def _statuses(db: str) -> dict[str, int]:
    return dict(rows(db, "SELECT status, count(*) FROM toro_jobs GROUP BY status"))


def test_5000_jobs_four_processes_each_job_exactly_once(toro_app, toro_db, start_worker):
    with psycopg.connect(toro_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE test_done (marker bigint PRIMARY KEY)")
    ids = RecordOnce.perform_bulk([(i,) for i in range(5000)])
    assert len(ids) == len(set(ids)) == 5000
    workers = [start_worker("-r", "workers_basic", "-c", "10") for _ in range(4)]
    wait_for(lambda: _statuses(toro_db).get("complete") == 5000, timeout=120)
    for worker in workers:
        assert worker.stop() == 0
    assert _statuses(toro_db) == {"complete": 5000}
    assert scalar(toro_db, "SELECT count(*) FROM test_done") == 5000
    assert scalar(toro_db, "SELECT count(DISTINCT started_by) FROM toro_jobs") >= 2
    assert scalar(toro_db, "SELECT max(attempt) FROM toro_jobs") == 1
    assert scalar(toro_db, "SELECT count(*) FROM toro_processes") == 0


def _span(db: str) -> float:
    return float(
        scalar(db, "SELECT extract(epoch FROM max(finished_at) - min(started_at)) FROM toro_jobs")
    )


@pytest.mark.parametrize("worker_class", [SleepSync, SleepAsync], ids=["sync", "async"])
def test_concurrency_is_real(toro_app, toro_db, start_worker, worker_class):
    worker_class.perform_bulk([(0.5,)] * 10)
    wide = start_worker("-r", "workers_basic", "-c", "10")
    wait_for(lambda: _statuses(toro_db).get("complete") == 10, timeout=30)
    assert wide.stop() == 0
    parallel = _span(toro_db)
    assert 0.5 <= parallel < 1.2, parallel

    with psycopg.connect(toro_db, autocommit=True) as conn:
        conn.execute("TRUNCATE toro_jobs")
    worker_class.perform_bulk([(0.5,)] * 10)
    start_worker("-r", "workers_basic", "-c", "1")
    wait_for(lambda: _statuses(toro_db).get("complete") == 10, timeout=30)
    serial = _span(toro_db)
    assert 5.0 <= serial < 7.0, serial


def test_transactional_enqueue(toro_app, toro_db, start_worker):
    with psycopg.connect(toro_db) as conn:
        job = Noop.set(connection=conn).perform_async("rolled back")
        assert job.id
        conn.rollback()
    assert scalar(toro_db, "SELECT count(*) FROM toro_jobs") == 0

    with psycopg.connect(toro_db) as conn:
        job = Noop.set(connection=conn).perform_async("committed")
        assert scalar(toro_db, "SELECT count(*) FROM toro_jobs") == 0  # not visible yet
        conn.commit()
    start_worker("-r", "workers_basic")
    wait_for(
        lambda: (
            scalar(toro_db, "SELECT status FROM toro_jobs WHERE id = %s", (job.id,)) == "complete"
        )
    )


def test_failures_are_recorded_and_the_worker_goes_on(toro_app, toro_db, start_worker):
    failing = Fails.perform_async("it broke <badly>")
    with psycopg.connect(toro_db, autocommit=True) as conn:
        unknown = conn.execute(
            "INSERT INTO toro_jobs (class_name, args)"
            " VALUES ('no_such_module.Missing', '[]') RETURNING id"
        ).fetchone()[0]
        not_a_worker = conn.execute(
            "INSERT INTO toro_jobs (class_name, args) VALUES ('os.getcwd', '[]') RETURNING id"
        ).fetchone()[0]
    after = Noop.perform_async("still running")
    worker = start_worker("-r", "workers_basic")
    wait_for(
        lambda: _statuses(toro_db).get("complete") == 1 and _statuses(toro_db).get("failed") == 3
    )
    props = scalar(toro_db, "SELECT properties FROM toro_jobs WHERE id = %s", (failing.id,))
    assert props["error:class"] == "RuntimeError"
    assert props["error:message"] == "it broke <badly>"
    assert (
        "Traceback" in props["error:backtrace"] and "workers_basic.py" in props["error:backtrace"]
    )
    reason = scalar(
        toro_db, "SELECT properties->>'error:message' FROM toro_jobs WHERE id = %s", (unknown,)
    )
    assert "no_such_module.Missing" in reason and "-r" in reason
    reason = scalar(
        toro_db, "SELECT properties->>'error:message' FROM toro_jobs WHERE id = %s", (not_a_worker,)
    )
    assert "not a toro Worker" in reason
    assert scalar(toro_db, "SELECT status FROM toro_jobs WHERE id = %s", (after.id,)) == "complete"
    assert worker.popen.poll() is None  # the process keeps going


def test_job_name_and_queues(toro_app, toro_db, start_worker):
    job = Named.perform_async(42)
    assert job.name == "user #42" and job.queue == "named"
    ids = Named.perform_bulk([(1,), (2,)])
    assert [
        r[0]
        for r in rows(toro_db, "SELECT name FROM toro_jobs WHERE id = ANY(%s) ORDER BY id", (ids,))
    ] == [
        "user #1",
        "user #2",
    ]
    start_worker("-r", "workers_basic", "-q", "default")  # does not serve 'named'
    Noop.perform_async()
    wait_for(lambda: _statuses(toro_db).get("complete") == 1)
    assert _statuses(toro_db)["queued"] == 3
    start_worker("-r", "workers_basic", "-q", "named", "-q", "default")
    wait_for(lambda: _statuses(toro_db) == {"complete": 4})


def _failure_of(job_id, toro_db, start_worker):
    """Start a worker, wait for the job to fail, and return its properties."""
    start_worker("-r", "workers_basic")
    wait_for(
        lambda: scalar(toro_db, "SELECT status FROM toro_jobs WHERE id = %s", (job_id,)) == "failed"
    )
    return scalar(toro_db, "SELECT properties FROM toro_jobs WHERE id = %s", (job_id,))


def test_timeout_fails_the_job_naming_the_limit(toro_app, toro_db, start_worker):
    props = _failure_of(SlowWithTimeout.perform_async().id, toro_db, start_worker)
    assert props["error:class"] == "toro_core.errors.JobTimeout"
    assert "0.5 s" in props["error:message"]


def test_a_timeout_error_of_the_job_itself_is_not_its_timeout(toro_app, toro_db, start_worker):
    props = _failure_of(OwnTimeoutError.perform_async().id, toro_db, start_worker)
    assert props["error:class"] == "TimeoutError"
    assert props["error:message"] == "the service did not answer"


def test_a_job_that_swallows_its_cancel_ends_as_it_returned_and_the_worker_goes_on(
    toro_app, toro_db, start_worker
):
    job = SwallowsCancel.perform_async()
    start_worker("-r", "workers_basic")
    wait_for(
        lambda: (
            scalar(toro_db, "SELECT status FROM toro_jobs WHERE id = %s", (job.id,)) == "running"
        )
    )
    toro_app.cancel(job.id)
    wait_for(
        lambda: (
            scalar(toro_db, "SELECT status FROM toro_jobs WHERE id = %s", (job.id,)) != "running"
        )
    )
    assert scalar(toro_db, "SELECT result FROM toro_jobs WHERE id = %s", (job.id,)) == "swallowed"
    after = Noop.perform_async()  # the slot's task was not left cancelled
    wait_for(
        lambda: (
            scalar(toro_db, "SELECT status FROM toro_jobs WHERE id = %s", (after.id,)) == "complete"
        )
    )


def test_an_enqueue_wakes_an_idle_worker_without_polling(toro_app, toro_db, start_worker):
    start_worker("-r", "workers_basic", "--poll-interval", "60")
    import time

    time.sleep(1.5)  # idle: the first polls are over, the next is a minute away
    job = Noop.perform_async("single")
    wait_for(lambda: _statuses(toro_db).get("complete") == 1, timeout=5)
    Noop.perform_bulk([("bulk",)] * 5)
    wait_for(lambda: _statuses(toro_db).get("complete") == 6, timeout=5)
    with psycopg.connect(toro_db) as conn:  # inside a transaction: woken at commit
        Noop.set(connection=conn).perform_async("tx")
        time.sleep(0.5)
        assert _statuses(toro_db).get("complete") == 6
    wait_for(lambda: _statuses(toro_db).get("complete") == 7, timeout=5)
    assert job.id


def test_an_outcome_batch_writes_each_jobs_own_run_time(toro_app, toro_db):
    ids = [SleepAsync.perform_async(seconds).id for seconds in (0.05, 0.3, 0.6)]
    with toro_app.background_worker(concurrency=3):
        wait_for(lambda: _statuses(toro_db).get("complete") == 3, timeout=20)
    taken = dict(
        rows(
            toro_db,
            "SELECT id, extract(epoch FROM finished_at - started_at)::float8 FROM toro_jobs",
        )
    )
    for job_id, seconds in zip(ids, (0.05, 0.3, 0.6), strict=True):
        assert seconds <= taken[job_id] < seconds + 0.5, taken


def test_toro_core_start_freezes_what_it_loaded_before_running(toro_app, toro_db, start_worker):
    # the process is the worker's: the app, its plugins and the worker classes stay out of the
    # collector's passes (a full pass walked them all while jobs waited)
    from results_workers import FrozenObjects

    job = FrozenObjects.perform_async()
    worker = start_worker("-r", "results_workers")
    wait_for(lambda: scalar(toro_db, "SELECT status FROM toro_jobs") == "complete", timeout=30)
    assert worker.stop() == 0
    frozen = scalar(toro_db, "SELECT result FROM toro_jobs WHERE id = %s", (job.id,))
    assert isinstance(frozen, int) and frozen > 10_000, frozen
