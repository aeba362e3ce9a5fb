"""toro-metrics in the monitor and on the command line: queue metrics at the monitor's
``/metrics`` and from ``toro-core metrics`` match SQL counts, and the Overview page (the
landing page) shows the per-minute rollup of the jobs a worker ran."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator

import psycopg
import pytest
import toro_metrics.plugin as metrics_plugin
import toro_metrics.queues as queues
import toro_monitor.plugin as monitor_plugin
from litestar.testing import TestClient
from metrics_workers import Boom, Quick
from monitor_support import XSS, add_job
from prometheus_client.parser import text_string_to_metric_families
from toro_monitor import MonitorOptions, create_app

from toro_core.testing import as_default, rows, scalar, wait_for

HX = {"HX-Request": "true"}
PROCESS = "00000000-0000-0000-0000-000000000001"


@pytest.fixture
def client(make_app) -> Iterator[TestClient]:
    toro = make_app(plugins=[monitor_plugin, metrics_plugin])
    with TestClient(create_app(toro, MonitorOptions(basic_auth=None))) as test_client:
        yield test_client


def parse(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def seed(db: str) -> None:
    for queue, status, n, age in [
        ("default", "complete", 5, 600),
        ("default", "failed", 2, 300),
        ("default", "queued", 3, 120),
        ("mail", "queued", 4, 30),
        ("mail", "complete", 1, 60),
        ("mail", "running", 2, 10),
        ("reports", "scheduled", 2, 5),
    ]:
        for _ in range(n):
            add_job(db, queue=queue, status=status, age=age)
    rows(
        db,
        "INSERT INTO toro_processes (id, host, pid, queues, concurrency) "
        "VALUES (%s, 'host-a', 4242, '{default,mail}', 5) RETURNING id",
        (PROCESS,),
    )
    rows(
        db,
        "UPDATE toro_jobs SET locked_by = %s WHERE status = 'running' RETURNING id",
        (PROCESS,),
    )


def check_against_sql(samples, db: str) -> None:
    expected = {
        (("queue", queue), ("status", status)): float(n)
        for queue, status, n in rows(
            db, "SELECT queue, status, count(*) FROM toro_jobs GROUP BY 1, 2"
        )
    }
    assert samples["toro_queue_jobs"] == expected
    assert samples["toro_queue_counts_exact"] == {(): 1.0}
    oldest = dict(
        rows(
            db,
            """SELECT queue, extract(epoch FROM now() - min(COALESCE(scheduled_at, created_at)))
                 FROM toro_jobs WHERE status = 'queued' GROUP BY queue""",
        )
    )
    ages = {
        labels[0][1]: age for labels, age in samples["toro_queue_oldest_job_age_seconds"].items()
    }
    assert ages.keys() == oldest.keys() == {"default", "mail"}
    for queue, age in ages.items():
        assert abs(age - float(oldest[queue])) < 5, (queue, age, oldest[queue])
    assert samples["toro_processes"] == {(): 1.0}
    assert samples["toro_processes_slots"] == {(): 5.0}
    assert samples["toro_processes_slots_busy"] == {(): 2.0}


def test_monitor_metrics_match_sql_counts(client, toro_db):
    seed(toro_db)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    check_against_sql(parse(response.text), toro_db)


def test_toro_core_metrics_prints_the_same(toro_db):
    seed(toro_db)
    env = {**os.environ, "TORO_DATABASE_URL": toro_db, "TORO_PLUGINS": "metrics"}
    done = subprocess.run(
        [sys.executable, "-m", "toro_core", "metrics"],
        capture_output=True, text=True, env=env, timeout=60, check=True,
    )  # fmt: skip
    check_against_sql(parse(done.stdout), toro_db)
    as_json = subprocess.run(
        [sys.executable, "-m", "toro_core", "metrics", "--json"],
        capture_output=True, text=True, env=env, timeout=60, check=True,
    )  # fmt: skip
    assert '"queue": "mail"' in as_json.stdout and '"processes": 1' in as_json.stdout


def test_large_table_paths_estimate_and_say_so(client, toro_db, monkeypatch):
    """The code paths of a large table, on a small one: counted up to a cap, estimated above."""
    seed(toro_db)
    monkeypatch.setattr(queues, "EXACT_ROWS", 0)
    samples = parse(client.get("/metrics").text)
    # the sample covers the whole (small) table and no queue reaches the cap: still exact
    check_against_sql(samples, toro_db)
    monkeypatch.setattr(queues, "COUNT_CAP", 3)
    samples = parse(client.get("/metrics").text)
    assert samples["toro_queue_counts_exact"] == {(): 0.0}
    jobs = samples["toro_queue_jobs"]
    assert jobs[(("queue", "mail"), ("status", "queued"))] >= 3
    assert jobs[(("queue", "mail"), ("status", "running"))] == 2
    assert jobs[(("queue", "default"), ("status", "complete"))] == 5


def test_metrics_endpoint_is_behind_the_monitors_auth(make_app):
    toro = make_app(plugins=[monitor_plugin, metrics_plugin])
    with TestClient(create_app(toro, MonitorOptions(basic_auth=("u", "p")))) as test_client:
        assert test_client.get("/metrics").status_code == 401
        assert test_client.get("/metrics", auth=("u", "p")).status_code == 200
        assert test_client.post("/metrics").status_code in (403, 405)


# ------------------------------------------------------------------ the Overview page


def bars(html: str, chart: str) -> list[tuple[str, int, int, int]]:
    figure = html.split(f'data-chart="{chart}"', 1)[1].split("</figure>", 1)[0]
    return [
        (start, int(complete), int(failed), int(total))
        for start, complete, failed, total in re.findall(
            r'data-start="([^"]+)" data-complete="(\d+)" data-failed="(\d+)" data-total="(\d+)"',
            figure,
        )
    ]


def test_overview_is_the_landing_page_and_matches_the_jobs_run(
    client, make_app, toro_db, start_worker
):
    with as_default(make_app()):
        Quick.perform_bulk([(i,) for i in range(40)])
        Boom.perform_bulk([(i,) for i in range(7)])
    worker = start_worker("-r", "metrics_workers", "-q", "fast", plugins=["metrics"])
    wait_for(lambda: scalar(toro_db, "SELECT count(*) FROM toro_jobs WHERE locked_by IS NULL "
                                     "AND status IN ('complete', 'failed')") == 47)  # fmt: skip
    assert worker.stop() == 0  # its last counts are written as it stops
    add_job(toro_db, queue="fast", status="queued", age=90)

    home = client.get("/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/overview"
    page = client.get("/overview")
    assert page.status_code == 200
    html = page.text
    assert "<h1>Overview</h1>" in html and 'aria-current="page">Overview<' in html
    assert "toro_metrics/overview.css" in html

    minutes = bars(html, "minutes")
    assert len(minutes) == 60
    expected = {
        minute.isoformat(): (complete, failed)
        for minute, complete, failed in rows(
            toro_db,
            """SELECT date_trunc('minute', finished_at),
                      count(*) FILTER (WHERE status = 'complete'),
                      count(*) FILTER (WHERE status = 'failed')
                 FROM toro_jobs WHERE finished_at IS NOT NULL GROUP BY 1""",
        )
    }
    shown = {start: (c, f) for start, c, f, _ in minutes if c or f}
    assert shown == expected
    assert sum(c for _, c, _, _ in minutes) == 40 and sum(f for _, _, f, _ in minutes) == 7
    hours = bars(html, "hours")
    assert len(hours) == 24 and sum(c for _, c, _, _ in hours) == 40
    assert re.search(r'data-kpi="complete"><strong>40</strong>', html)
    assert re.search(r'data-kpi="failed"><strong>7</strong>', html)
    shown_rate = re.search(r'data-kpi="throughput"><strong>([\d.]+)</strong> jobs/s', html)
    assert shown_rate and 0.1 <= float(shown_rate.group(1)) <= 0.2  # 47 jobs in 4 to 5 min
    assert re.search(r'<tr data-queue="fast">.*?<td class="num">47</td>', html, re.S)
    depth = html.split('class="depth"', 1)[1]
    assert re.search(r'<tr data-queue="fast">.*?<td class="num">1</td>', depth, re.S)

    partial = client.get("/overview", headers=HX).text
    assert partial.lstrip().startswith('<div id="page"') and "<html" not in partial
    assert 'hx-get="/overview"' in partial


def test_overview_escapes_and_survives_a_missing_rollup(client, toro_db):
    add_job(toro_db, queue=XSS, status="queued")
    html = client.get("/overview").text
    assert XSS not in html and "&lt;script&gt;" in html
    with psycopg.connect(toro_db, autocommit=True) as conn:
        conn.execute("DROP TABLE toro_metrics_minutes")
    page = client.get("/overview")
    assert page.status_code == 200 and "toro-core migrate" in page.text
    assert "&lt;script&gt;" in page.text  # the depth still shows


def test_overview_wait_percentiles_describe_the_waits(client, make_app, toro_db, start_worker):
    """Jobs created 40 s (most) and 400 s (a few) before they ran: the p50 falls in the bucket
    around 40 s, the p95 in the one around 400 s."""
    with as_default(make_app()):
        Quick.perform_bulk([(i,) for i in range(40)])
    with psycopg.connect(toro_db, autocommit=True) as conn:
        conn.execute("UPDATE toro_jobs SET created_at = now() - interval '40 seconds'")
        conn.execute(
            "UPDATE toro_jobs SET created_at = now() - interval '400 seconds'"
            " WHERE id IN (SELECT id FROM toro_jobs ORDER BY id LIMIT 4)"
        )
    worker = start_worker("-r", "metrics_workers", "-q", "fast", plugins=["metrics"])
    wait_for(lambda: scalar(toro_db, "SELECT count(*) FROM toro_jobs WHERE locked_by IS NULL "
                                     "AND status = 'complete'") == 40)  # fmt: skip
    assert worker.stop() == 0
    html = client.get("/overview").text
    row = re.search(r'<tr data-queue="fast">(.*?)</tr>', html.split("Attempts", 1)[1], re.S)
    assert row, html
    p50 = float(re.search(r'data-p50="([\d.]+)"', row.group(1)).group(1))
    p95 = float(re.search(r'data-p95="([\d.]+)"', row.group(1)).group(1))
    assert 30 <= p50 <= 60, p50  # the 30-60 s bucket
    assert 300 <= p95 <= 900, p95  # the 300-900 s bucket
