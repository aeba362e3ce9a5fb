"""toro-metrics in a worker process: ``toro-core start --metrics-port`` serves Prometheus text
whose counters and histograms match what the process ran, and answers while jobs run."""

from __future__ import annotations

import re
import urllib.request
from collections import Counter

import pytest
from metrics_workers import Boom, Gate, Mail, Quick
from prometheus_client.parser import text_string_to_metric_families

from toro_core.testing import rows, wait_for


def scrape(url: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """``{sample name: {sorted labels: value}}`` of a Prometheus endpoint."""
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[key] = sample.value
    return samples


def metrics_url(worker) -> str:
    found = wait_for(lambda: re.search(r"metrics at http://[^:]+:(\d+)/metrics", worker.log()))
    return f"http://127.0.0.1:{found.group(1)}/metrics"


def value(samples, name: str, **labels: str) -> float:
    return samples.get(name, {}).get(tuple(sorted(labels.items())), 0.0)


def test_counters_and_histograms_match_the_jobs_run(toro_app, toro_db, start_worker, tmp_path):
    gate = tmp_path / "open"
    Gate.perform_bulk([(str(gate),)] * 3)
    worker = start_worker(
        "-r", "metrics_workers", "-q", "fast", "-q", "mail", "-q", "slow", "-c", "10",
        "--metrics-port", "0", "--metrics-host", "127.0.0.1",
        plugins=["metrics"],
    )  # fmt: skip
    url = metrics_url(worker)

    # the endpoint answers while jobs run: three gated jobs hold three slots
    gated = {"queue": "slow", "worker": Gate.class_name()}
    running = wait_for(
        lambda: (s := scrape(url)) and value(s, "toro_jobs_started_total", **gated) == 3 and s
    )
    assert value(running, "toro_worker_slots_busy") == 3
    assert value(running, "toro_worker_slots") == 10
    assert value(running, "toro_jobs_finished_total", queue="slow", worker=Gate.class_name(),
                 status="complete") == 0  # fmt: skip

    Quick.perform_bulk([(i,) for i in range(150)])
    Mail.perform_bulk([(i,) for i in range(50)])
    Boom.perform_bulk([(i,) for i in range(20)])
    during = scrape(url)  # answers while those run too
    assert value(during, "toro_worker_slots_busy") >= 3
    gate.touch()

    expected = {
        ("fast", Quick.class_name(), "complete"): 150,
        ("mail", Mail.class_name(), "complete"): 50,
        ("fast", Boom.class_name(), "failed"): 20,
        ("slow", Gate.class_name(), "complete"): 3,
    }
    wait_for(lambda: value(scrape(url), "toro_worker_outcomes_written_total") == 223, timeout=60)
    in_table = Counter(
        {
            (queue, cls, status): n
            for queue, cls, status, n in rows(
                toro_db,
                "SELECT queue, class_name, status, count(*) FROM toro_jobs GROUP BY 1, 2, 3",
            )
        }
    )
    assert in_table == expected

    samples = scrape(url)
    for (queue, cls, status), count in expected.items():
        pair = {"queue": queue, "worker": cls}
        assert value(samples, "toro_jobs_finished_total", **pair, status=status) == count
        assert value(samples, "toro_jobs_started_total", **pair) == count
        assert value(samples, "toro_job_duration_seconds_count", **pair) == count
        assert value(samples, "toro_job_wait_seconds_count", **pair) == count
        assert value(samples, "toro_job_duration_seconds_bucket", **pair, le="+Inf") == count
        assert value(samples, "toro_job_duration_seconds_sum", **pair) >= 0
    # no other label sets: the failed worker never completed, the others never failed
    finished = samples["toro_jobs_finished_total"]
    assert sum(finished.values()) == 223 and len(finished) == 4
    assert value(samples, "toro_job_wait_seconds_sum", queue="slow", worker=Gate.class_name()) > 0
    assert value(samples, "toro_worker_slots_busy") == 0
    assert value(samples, "toro_worker_outcomes_pending") == 0
    assert value(samples, "toro_worker_jobs_claimed_total") == 223
    assert value(samples, "toro_worker_claim_errors_total") == 0
    assert value(samples, "toro_worker_outcomes_refused_total") == 0
    assert value(samples, "toro_worker_database_reconnects_total") == 0
    assert "process_cpu_seconds_total" in samples
    assert worker.stop() == 0

    # the per-minute rollup (written at the latest when the process stops) agrees with the
    # table, minute by minute
    by_minute = """SELECT date_trunc('minute', finished_at), queue, status, count(*)
                     FROM toro_jobs GROUP BY 1, 2, 3"""
    rolled = """SELECT minute, queue, status, jobs FROM toro_metrics_minutes"""
    assert sorted(rows(toro_db, rolled)) == sorted(rows(toro_db, by_minute))
    waits = rows(toro_db, "SELECT jobs, wait_counts FROM toro_metrics_minutes")
    assert waits and all(sum(counts) == jobs for jobs, counts in waits)


def test_metrics_port_from_the_environment_and_a_port_in_use(toro_app, start_worker):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused = start_worker(
            "-r", "metrics_workers", "--metrics-host", "127.0.0.1",
            plugins=["metrics"], env={"TORO_METRICS_PORT": str(port)}, wait_ready=False,
        )  # fmt: skip
        assert refused.popen.wait(timeout=30) == 1
        log = refused.log()
        assert f"toro-core: error: --metrics-port {port}: cannot serve metrics" in log
        assert "Traceback" not in log
    assert rows(toro_app.database_url, "SELECT id FROM toro_processes") == []


@pytest.mark.parametrize("bad", ["nine", "70000", "-1"])
def test_a_bad_metrics_port_is_a_usage_error(start_worker, bad):
    worker = start_worker("--metrics-port", bad, plugins=["metrics"], wait_ready=False)
    assert worker.popen.wait(timeout=30) == 2
    assert "argument --metrics-port" in worker.log() and "port number" in worker.log()
