"""Plugins' rows stay consistent when jobs are pruned, and the monitor reads at any size.

* toro-scheduler: a tick whose job is deleted keeps its row (where the schedule resumes) and
  forgets the job id, in the statement that deletes the job; the schedule keeps ticking once.
* toro-metrics: the per-minute rollup outlives the jobs it counted (that is what it is for).
* toro-monitor: with running jobs outside its indexes, every list is still in the right order,
  and its queries walk indexes, never the whole table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import anyio
import psycopg
import pytest
import toro_monitor.plugin as monitor_plugin
from litestar.testing import TestClient
from monitor_support import add_job, walk_pages
from psycopg import sql
from toro_monitor import MonitorOptions, create_app
from toro_monitor import store as monitor_store

from toro_core.app import Toro
from toro_core.runtime.pruner import Pruner
from toro_core.store import CoreStore, aconnect
from toro_core.testing import rows, run_toro, scalar, wait_for

HX = {"HX-Request": "true"}


async def prune(conninfo: str, horizons: dict[str, float]) -> dict[str, int]:
    async with await aconnect(conninfo) as conn:
        return await Pruner(CoreStore(connection=conn), horizons).prune()


# ------------------------------------------------------------------------------ scheduler


def test_ticks_forget_pruned_jobs_in_the_same_statement(toro_db):
    with psycopg.connect(toro_db, autocommit=True) as conn:
        (old,), (new,) = conn.execute(
            "INSERT INTO toro_jobs (class_name, status, finished_at) VALUES"
            " ('app.Tick', 'complete', now() - interval '3 days'),"
            " ('app.Tick', 'complete', now()) RETURNING id"
        ).fetchall()
        conn.execute(
            "INSERT INTO toro_schedule_ticks (schedule, tick_at, job_id) VALUES"
            " ('app.Tick', now() - interval '3 days', %s), ('app.Tick', now(), %s)",
            (old, new),
        )
    assert anyio.run(prune, toro_db, {"complete": 86400.0}) == {"complete": 1}
    ticks = rows(toro_db, "SELECT job_id FROM toro_schedule_ticks ORDER BY tick_at")
    assert ticks == [(None,), (new,)]  # both ticks kept; the pruned job's id forgotten
    # any delete, not only the pruner's
    with psycopg.connect(toro_db, autocommit=True) as conn:
        conn.execute("DELETE FROM toro_jobs WHERE id = %s", (new,))
    assert rows(toro_db, "SELECT job_id FROM toro_schedule_ticks") == [(None,), (None,)]


@pytest.mark.slow
def test_a_schedule_keeps_ticking_once_while_its_jobs_are_pruned(toro_db, start_worker):
    worker = start_worker(
        "-r",
        "scheduler_workers_periodic",
        "--keep-complete",
        "2s",
        plugins=["scheduler"],
        env={"TORO_LOG_LEVEL": "DEBUG"},
    )
    schedule = "scheduler_workers_periodic.EverySecond"
    # ticks whose jobs are gone (pruned), and ticks still linked to their job
    wait_for(
        lambda: (
            scalar(toro_db, "SELECT count(*) FROM toro_schedule_ticks WHERE job_id IS NULL") >= 3
        ),
        timeout=60,
    )
    assert worker.stop() == 0, worker.log()
    ticks = rows(
        toro_db,
        "SELECT tick_at, job_id FROM toro_schedule_ticks WHERE schedule = %s ORDER BY tick_at",
        (schedule,),
    )
    linked = {job for _, job in ticks if job is not None}
    jobs = {i for (i,) in rows(toro_db, "SELECT id FROM toro_jobs")}
    assert linked <= jobs  # no tick names a job that is not there
    stamps = [tick for tick, _ in ticks]
    assert len(stamps) == len(set(stamps))  # a tick enqueued once, even after its job went
    log = worker.log()
    assert "pruned" in log and "Traceback" not in log and " ERROR " not in log, log
    out = run_toro("schedules", "--jobs", "0", database_url=toro_db, plugins=["scheduler"])
    assert out.returncode == 0 and schedule in out.stdout, out.stderr


# ------------------------------------------------------------------------------ metrics


def test_the_metrics_rollup_outlives_the_jobs_it_counted(toro_db):
    with psycopg.connect(toro_db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO toro_jobs (class_name, status, finished_at)"
            " SELECT 'app.Job', 'complete', now() - interval '2 days' FROM generate_series(1, 5)"
        )
        conn.execute(
            "INSERT INTO toro_metrics_minutes (minute, queue, status, jobs, duration_sum,"
            " wait_sum, wait_counts) VALUES (date_trunc('minute', now() - interval '2 days'),"
            " 'default', 'complete', 5, 1.0, 0.5, '{5}')"
        )
    assert anyio.run(prune, toro_db, {"complete": 86400.0}) == {"complete": 5}
    assert scalar(toro_db, "SELECT count(*) FROM toro_jobs") == 0
    assert rows(toro_db, "SELECT queue, status, jobs FROM toro_metrics_minutes") == [
        ("default", "complete", 5)
    ]


# ------------------------------------------------------------------------------ monitor


@pytest.fixture
def monitor(make_app: Callable[..., Toro]) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def build(options: MonitorOptions | None = None) -> TestClient:
        client = TestClient(
            create_app(
                make_app(plugins=[monitor_plugin]), options or MonitorOptions(basic_auth=None)
            )
        )
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


ORDERS = {
    "created": "id {d}",
    "queue": "queue {d}, id {d}",
    "class": "class_name {d}, id {d}",
    "status": "status {d}, id {d}",
}


@pytest.mark.parametrize("sort", list(ORDERS))
@pytest.mark.parametrize("direction", ["desc", "asc"])
def test_running_jobs_are_merged_in_order(monitor, toro_db, sort, direction):
    statuses = ["running", "complete", "queued", "failed", "running", "scheduled"]
    for i in range(30):
        add_job(
            toro_db,
            queue=f"q{(i * 7) % 4}",
            class_name=f"app.W{(i * 5) % 3}",
            status=statuses[i % len(statuses)],
            age=100 - i,
        )
    order = ORDERS[sort].format(d=direction.upper())
    client = monitor(MonitorOptions(basic_auth=None, page_size=7))
    for where, query in (
        ("TRUE", ""),
        ("queue = 'q1'", "&queue=q1"),
        ("class_name = 'app.W2'", "&class=app.W2"),
    ):
        expected = [
            i for (i,) in rows(toro_db, f"SELECT id FROM toro_jobs WHERE {where} ORDER BY {order}")
        ]
        seen = walk_pages(client, f"/jobs?sort={sort}&dir={direction}{query}", 20)
        assert seen == expected, (where, sort, direction)


def _plans(conninfo: str, recorded: list[tuple[object, object]]) -> list[str]:
    plans = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for query, params in recorded:
            text = query.as_string(conn) if isinstance(query, sql.Composable) else str(query)
            body = "\n".join(
                line for line in text.splitlines() if not line.lstrip().startswith("--")
            )
            if body.lstrip().upper().startswith("EXPLAIN"):
                continue
            plan = conn.execute("EXPLAIN " + body, params).fetchall()
            plans.append("\n".join(line for (line,) in plan))
    return plans


def test_monitor_pages_walk_indexes_on_a_large_table(monitor, toro_db, monkeypatch):
    with psycopg.connect(toro_db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO toro_jobs (queue, class_name, status, started_at, finished_at, locked_by)"
            " SELECT 'q' || (g % 5), 'app.W' || (g % 8),"
            " CASE WHEN g % 100 < 90 THEN 'complete' WHEN g % 1000 < 999 THEN 'failed'"
            " ELSE 'running' END, now(), now(), NULL"
            " FROM generate_series(1, 60000) AS g"
        )
        conn.execute("VACUUM ANALYZE toro_jobs")
    recorded: list[tuple[object, object]] = []
    original = monitor_store.MonitorStore._all

    async def record(self, query, params=None):  # type: ignore[no-untyped-def]
        recorded.append((query, params))
        return await original(self, query, params)

    monkeypatch.setattr(monitor_store.MonitorStore, "_all", record)
    client = monitor()
    # a filter is read from an index; only the unfiltered count (first rows of the table, up to
    # the count threshold) and the histograms' block sample may read the table itself
    for url, whole_table_allowed in (
        ("/jobs", True),
        ("/jobs?sort=queue", True),
        ("/jobs?sort=class&dir=asc", True),
        ("/jobs?sort=status", True),
        ("/jobs?status=failed", False),
        ("/jobs?status=running", False),
        ("/jobs?queue=q1", False),
        ("/jobs?class=app.W3", False),
        ("/jobs?queue=q1&class=app.W3&status=failed", False),
        ("/jobs?queue=nowhere&status=failed", False),
        ("/queues", True),
    ):
        recorded.clear()
        assert client.get(url, headers=HX).status_code == 200, url
        for plan in _plans(toro_db, recorded):
            if whole_table_allowed:
                continue
            assert "Seq Scan on toro_jobs" not in plan, (url, plan)
