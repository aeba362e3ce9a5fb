"""What ``toro-core start`` logs by default: start and stop, every failure, and a summary line
of the jobs run; per-job lines only at DEBUG."""

from __future__ import annotations

import re
import time

from workers_basic import Fails, Noop

from toro_core.testing import run_toro, scalar, wait_for


def finished(db: str) -> int:
    return int(scalar(db, "SELECT count(*) FROM toro_jobs WHERE finished_at IS NOT NULL"))


def test_default_output_is_a_summary_and_the_failures(toro_app, toro_db, start_worker):
    Noop.perform_bulk([()] * 30)
    Fails.perform_bulk([("boom",)] * 2)
    worker = start_worker("-r", "workers_basic", "--summary-interval", "0.5")
    wait_for(lambda: finished(toro_db) == 32, timeout=30)
    wait_for(lambda: "32 jobs in" in worker.log(), timeout=10)
    assert worker.stop() == 0
    log = worker.log()
    assert re.search(r"32 jobs in \ds \([\d.,]+/s\): 30 complete, 2 failed; \d+ of 10 slots", log)
    assert len(re.findall(r"job \d+ workers_basic\.Fails failed in [\d.]+s: \w+", log)) == 2
    assert "workers_basic.Noop" not in log  # no line per successful job
    assert "running: queues default" in log and "stopped" in log


def test_debug_has_a_line_per_job_and_an_idle_worker_writes_no_summary(
    toro_app, toro_db, start_worker
):
    Noop.perform_bulk([()] * 3)
    worker = start_worker(
        "-r", "workers_basic", "--summary-interval", "0.3", "--log-level", "DEBUG"
    )
    wait_for(lambda: finished(toro_db) == 3, timeout=30)
    wait_for(lambda: "3 jobs in" in worker.log(), timeout=10)
    before = worker.log().count(" jobs in ")
    time.sleep(1.0)  # three more summary periods with nothing run
    assert worker.log().count(" jobs in ") == before
    assert worker.stop() == 0
    assert len(re.findall(r"job \d+ workers_basic\.Noop started \(attempt 1\)", worker.log())) == 3
    assert len(re.findall(r"job \d+ workers_basic\.Noop complete in", worker.log())) == 3


def test_summary_interval_zero_turns_it_off_and_bad_values_are_refused(
    toro_app, toro_db, start_worker
):
    Noop.perform_bulk([()] * 3)
    worker = start_worker("-r", "workers_basic", "--summary-interval", "0")
    wait_for(lambda: finished(toro_db) == 3, timeout=30)
    assert worker.stop() == 0
    assert " jobs in " not in worker.log()
    bad = run_toro("start", "--summary-interval", "-1", database_url=toro_db)
    assert bad.returncode == 2 and "--summary-interval" in bad.stderr
    assert "Traceback" not in bad.stderr
