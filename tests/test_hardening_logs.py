"""Log lines escape control characters from job data: a newline cannot forge a log line."""

from __future__ import annotations

import psycopg
from hardening_workers import Fails

from toro_core.printable import printable
from toro_core.testing import scalar, wait_for


def test_printable_escapes_controls_and_cuts():
    assert printable("a\nb\r\tc") == "a\\nb\\r\\tc"
    assert printable("\x1b[2J\u2028\u202e\x7f") == "\\x1b[2J\\u2028\\u202e\\x7f"
    assert printable("ünïcode ✓ plain") == "ünïcode ✓ plain"
    assert printable("x" * 50, limit=10) == "xxxxxxxxxx... (40 more characters)"

    class Broken(Exception):
        def __str__(self) -> str:
            raise RuntimeError

    assert printable(Broken()).endswith("Broken whose str() failed>")


def test_job_data_in_worker_logs_stays_on_one_line(toro_app, toro_db, start_worker):
    failing = Fails.perform_async("boom\n2030-01-01 00:00:00 INFO    toro.job: FORGED by message")
    with psycopg.connect(toro_db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO toro_jobs (class_name) VALUES"
            " (E'nowhere.X\\n2030-01-01 00:00:00 ERROR   toro.job: FORGED by class\\x1b[2J')"
        )
    worker = start_worker("-r", "hardening_workers")
    wait_for(lambda: scalar(toro_db, "SELECT count(*) FROM toro_jobs WHERE status = 'failed'") == 2)
    assert worker.stop() == 0
    log = worker.log()
    lines = log.splitlines()
    assert not [line for line in lines if line.startswith("2030-")]  # no forged line
    assert f"job {failing.id} " in log and "boom\\n2030-01-01 00:00:00 INFO" in log
    assert "nowhere.X\\n2030-01-01 00:00:00 ERROR" in log and "\\x1b[2J" in log
    assert "\x1b" not in log
    forged = [line for line in lines if "FORGED" in line]
    assert forged and all(" toro.job: job " in line for line in forged), forged
