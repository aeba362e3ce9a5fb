"""Two worker processes, started as users start them, prune while they process jobs."""

from __future__ import annotations

import re
import time

import pytest
from retention_workers import Quick

from toro_core.testing import as_default, scalar, wait_for

pytestmark = pytest.mark.slow


def pruned(log: str) -> int:
    """Jobs a process's log says its pruner deleted."""
    return sum(int(n.replace(",", "")) for n in re.findall(r"pruned ([0-9,]+) jobs", log))


def test_two_workers_prune_while_processing_without_errors(toro_app, toro_db, start_worker):
    options = ("-r", "retention_workers", "-c", "4", "--poll-interval", "0.2")
    retention = ("--keep-complete", "1s", "--keep-failed", "1s", "--keep-cancelled", "1s")
    workers = [start_worker(*options, *retention) for _ in range(2)]
    enqueued = 0
    with as_default(toro_app):
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:  # jobs keep coming while both prune
            Quick.perform_bulk([(enqueued + i,) for i in range(50)])
            enqueued += 50
            time.sleep(0.2)
    # every job runs, finishes, and is pruned a second later
    wait_for(lambda: scalar(toro_db, "SELECT count(*) FROM toro_jobs") == 0, timeout=90)
    for worker in workers:
        assert worker.stop() == 0, worker.log()
    logs = [worker.log() for worker in workers]
    for log in logs:
        assert "Traceback" not in log, log
        assert not re.search(r" (ERROR|WARNING) ", log), log
        assert "deadlock" not in log.lower(), log
    # each job was pruned once, by one of the two processes, after it ran once
    assert sum(pruned(log) for log in logs) == enqueued
    claimed = [
        re.search(r"stopped: (\d+) jobs claimed, (\d+) outcomes written", log) for log in logs
    ]
    assert all(claimed), logs
    assert sum(int(m.group(1)) for m in claimed if m) == enqueued  # each ran once
    assert sum(int(m.group(2)) for m in claimed if m) == enqueued
