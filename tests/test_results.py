"""Results: perform's return value stored with the job, and waiting for it (app.wait)."""

from __future__ import annotations

import threading
import time

import anyio
import psycopg
import pytest
from results_workers import (
    FailsSlowly,
    FlakyOnce,
    Returns,
    ReturnsAsync,
    ReturnsDatetime,
    ReturnsNul,
    ReturnsWhenDone,
    WithProperties,
)

from toro_core import JobCancelled, JobFailed, JobWaitTimeout
from toro_core.testing import scalar, wait_for

WORKER = ("-r", "results_workers", "-c", "4")


def test_results_are_stored_and_read_after_a_refresh_and_in_sql(toro_app, toro_db, start_worker):
    values = [{"total": 3, "items": [1, "two", None]}, [1, 2], 7, "done", True, None]
    jobs = [Returns.perform_async(value) for value in values]
    asynchronous = ReturnsAsync.perform_async({"from": "async"})
    start_worker(*WORKER)
    for job, value in zip(jobs, values, strict=True):
        assert toro_app.wait(job.id, timeout=20) == value
        refreshed = toro_app.job(job.id)
        assert refreshed is not None and refreshed.status == "complete"
        assert refreshed.result == value
    assert toro_app.wait(asynchronous.id, timeout=20) == {"from": "async"}
    total = "SELECT (result->>'total')::int FROM toro_jobs WHERE id = %s"
    assert scalar(toro_db, total, (jobs[0].id,)) == 3
    # None is no result: SQL NULL, not JSON null
    assert scalar(toro_db, "SELECT result IS NULL FROM toro_jobs WHERE id = %s", (jobs[-1].id,))
    # the jobs above were awaited (marked); a job nobody waits for is never marked
    unawaited = Returns.perform_async("unawaited")
    wait_for(lambda: (toro_app.job(unawaited.id) or unawaited).status == "complete")
    assert (
        scalar(toro_db, "SELECT awaited_at FROM toro_jobs WHERE id = %s", (unawaited.id,)) is None
    )


def test_a_value_json_cannot_hold_is_rejected_and_the_job_completes(
    toro_app, toro_db, start_worker
):
    odd = ReturnsDatetime.perform_async()
    refused = ReturnsNul.perform_async()  # JSON, but jsonb refuses NUL: the database says no
    fine = Returns.perform_async("fine")  # in the same batch: still written
    start_worker(*WORKER)
    assert toro_app.wait(odd.id, timeout=20) is None
    job = toro_app.job(odd.id)
    assert job is not None and job.status == "complete" and job.result is None
    assert job.properties["result:rejected"] == (
        "the return value['when'] is a datetime.datetime, not a JSON value"
    )
    assert toro_app.wait(refused.id, timeout=20) is None
    job = toro_app.job(refused.id)
    assert job is not None and job.status == "complete" and job.result is None
    assert "Unicode escape" in job.properties["result:rejected"]
    assert toro_app.wait(fine.id, timeout=20) == "fine"


def test_wait_returns_within_50_ms_of_completion_on_an_idle_worker(toro_app, start_worker):
    start_worker(*WORKER)
    Returns.perform_async("warm up")  # the first job of a process imports and connects
    time.sleep(0.5)
    latencies = []
    for _ in range(5):
        job = ReturnsWhenDone.perform_async(0.3)
        result = toro_app.wait(job.id, timeout=20)  # waits while the job runs
        latencies.append(time.time() - result["returned_at"])
    assert max(latencies) < 0.05, latencies


def test_wait_raises_for_a_failed_job_with_its_error(toro_app, start_worker):
    job = FailsSlowly.perform_async(0.2, "the <printer> is on fire")
    start_worker(*WORKER)
    with pytest.raises(JobFailed) as raised:
        toro_app.wait(job.id, timeout=20)
    error = raised.value
    assert error.job.id == job.id and error.job.status == "failed"
    assert error.error_class == "ValueError"
    assert error.error_message == "the <printer> is on fire"
    assert error.backtrace is not None and "raise ValueError(message)" in error.backtrace
    assert str(error) == (
        f"job {job.id} (results_workers.FailsSlowly) ended failed: "
        "ValueError: the <printer> is on fire"
    )
    # already final: the same answer at once
    with pytest.raises(JobFailed):
        toro_app.wait(job.id, timeout=0)


def test_wait_times_out_with_a_timeout_error_and_ends_at_a_cancel(toro_app):
    job = Returns.perform_async("nobody runs me")  # no worker
    started = time.monotonic()
    with pytest.raises(JobWaitTimeout) as raised:
        toro_app.wait(job.id, timeout=0.3)
    assert 0.3 <= time.monotonic() - started < 2
    assert isinstance(raised.value, TimeoutError)
    assert raised.value.job.status == "queued"
    assert (
        str(raised.value) == f"job {job.id} (results_workers.Returns) is still queued after 0.3 s"
    )

    # a cancel of a queued job notifies its waiter at once (no backstop poll needed)
    timer = threading.Timer(0.3, toro_app.cancel, args=(job.id,))
    timer.start()
    started = time.monotonic()
    with pytest.raises(JobCancelled) as cancelled:
        toro_app.wait(job.id, timeout=30)
    assert time.monotonic() - started < 2
    assert cancelled.value.job is not None and cancelled.value.job.status == "cancelled"


def test_wait_checks_its_arguments(toro_app):
    with pytest.raises(LookupError, match="no job 987654"):
        toro_app.wait(987654, timeout=1)
    with pytest.raises(TypeError, match="job_id must be"):
        toro_app.wait("1", timeout=1)
    with pytest.raises(ValueError, match="timeout must be 0 or more seconds"):
        toro_app.wait(1, timeout=-1)


def test_await_result_from_async_code(toro_app, start_worker):
    done = Returns.perform_async({"async": "wait"})
    failed = FailsSlowly.perform_async(0.1, "nope")
    start_worker(*WORKER)

    async def main() -> None:
        try:
            assert await toro_app.await_result(done.id, timeout=20) == {"async": "wait"}
            with pytest.raises(JobFailed, match="ValueError: nope"):
                await toro_app.await_result(failed.id, timeout=20)
            late = await Returns.aperform_async("late")
            assert await toro_app.await_result(late.id, timeout=20) == "late"
            queued = ReturnsWhenDone.perform_async(5)
            toro_app.cancel(queued.id)  # cancelled before a worker claims it, or while running
            with pytest.raises(JobCancelled):
                await toro_app.await_result(queued.id, timeout=20)
        finally:
            # the async client's pool was opened in this loop: closed in it, before it ends
            await toro_app.aclient.close()

    anyio.run(main)


def test_wait_follows_a_job_through_its_retries(make_app, start_worker, tmp_path):
    from toro_retry import plugin as retry_plugin

    from toro_core.testing import as_default

    with as_default(make_app(plugins=[retry_plugin])) as app:
        job = FlakyOnce.perform_async(str(tmp_path / "flaky"))
        start_worker(*WORKER, plugins=["retry"])
        assert app.wait(job.id, timeout=30) == "second time lucky"
        assert (app.job(job.id) or job).attempt == 2


def test_outcomes_of_jobs_nobody_awaits_send_no_notification(toro_app, toro_db, start_worker):
    job = Returns.perform_async("quiet")
    with psycopg.connect(toro_db, autocommit=True) as listener:
        listener.execute(f"LISTEN toro_finished_{job.id}")
        start_worker(*WORKER)
        wait_for(lambda: (toro_app.job(job.id) or job).status == "complete")
        assert list(listener.notifies(timeout=0.5)) == []


def test_with_toro_properties_the_job_properties_key_is_properties_not_result(
    make_app, toro_db, start_worker
):
    from toro_properties import plugin as properties_plugin

    from toro_core.testing import as_default

    with as_default(make_app(plugins=[properties_plugin])) as app:
        only = WithProperties.perform_async(False)
        both = WithProperties.perform_async(True)
        start_worker(*WORKER, plugins=["properties"])
        assert app.wait(only.id, timeout=20) is None
        assert app.wait(both.id, timeout=20) == {"total": 42}
        for job_id in (only.id, both.id):
            job = app.job(job_id)
            assert job is not None and job.properties["rows"] == 3
            assert "job_properties" not in (job.result or {})
