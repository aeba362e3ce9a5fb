"""The measuring parts of scripts/bench_history.py (run that; its docstring says how).

The benchmark's job class lives here, so that a worker process started with
``-r history_parts`` (this folder on its ``PYTHONPATH``) runs the jobs the benchmark enqueues.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from toro_core import Retention, Toro, Worker

SERVER = os.environ.get(
    "TORO_BENCH_SERVER", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
HERE = os.path.dirname(os.path.abspath(__file__))

SIZES = """
SELECT c.relname AS name, pg_relation_size(c.oid) AS bytes
  FROM pg_class AS c
 WHERE c.oid = 'toro_jobs'::regclass
    OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'toro_jobs'::regclass)
 ORDER BY c.relname <> 'toro_jobs', c.relname
"""
#: How full the table's pages and the indexes' leaves are (pgstattuple, when it can be had).
FULLNESS = """
SELECT 'toro_jobs' AS name,
       round((SELECT approx_tuple_percent FROM pgstattuple_approx('toro_jobs'))::numeric) AS used
UNION ALL
SELECT c.relname, round((pgstatindex(c.oid::regclass)).avg_leaf_density::numeric)
  FROM pg_class AS c
  JOIN pg_index AS i ON i.indexrelid = c.oid
  JOIN pg_am AS a ON a.oid = c.relam
 WHERE i.indrelid = 'toro_jobs'::regclass AND a.amname = 'btree'
"""


class HistoryNoop(Worker):
    """The benchmark's job: does nothing (the figures are toro's own cost)."""

    async def perform(self, i: int) -> None:
        pass


# ------------------------------------------------------------------------------- database


def connect(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(url, autocommit=True)


def settle(url: str) -> None:
    """Vacuum, analyse and checkpoint, so that one figure does not pay for the last."""
    with connect(url) as conn:
        conn.execute("VACUUM ANALYZE toro_jobs")
        conn.execute("CHECKPOINT")


def drop_jobs_after(url: str, last_id: int) -> None:
    """Delete the benchmark's own jobs (every id after the history's)."""
    with connect(url) as conn:
        conn.execute("DELETE FROM toro_jobs WHERE id > %s", (last_id,))
    settle(url)


def max_id(url: str) -> int:
    with connect(url) as conn:
        row = conn.execute("SELECT COALESCE(max(id), 0) FROM toro_jobs").fetchone()
    return int(row[0]) if row else 0


def sizes(url: str) -> dict[str, tuple[int, str]]:
    """``{relation: (bytes, how full)}`` of toro_jobs and its indexes; how full is the share of
    the table's space that live rows use, or an index's average leaf density (blank without
    the pgstattuple extension)."""
    with connect(url) as conn:
        found = {str(name): int(size) for name, size in conn.execute(SIZES).fetchall()}
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pgstattuple")
            full = {
                str(name): f"{used}%" if used == used else ""  # NaN for an empty index
                for name, used in conn.execute(FULLNESS).fetchall()
            }
        except psycopg.Error:
            full = {}
    return {name: (size, full.get(name, "")) for name, size in found.items()}


def print_sizes(title: str, columns: list[tuple[str, dict[str, tuple[int, str]]]]) -> None:
    """One line per relation, one column (MB and how full) per moment."""
    print(title)
    print(f"  {'':<36}" + "".join(f"{label:>24}" for label, _ in columns))
    for name in columns[0][1]:
        cells = []
        for _, measured in columns:
            size, full = measured.get(name, (0, ""))
            cells.append(f"{size / 2**20:>14,.1f} MB {full:>6}")
        print(f"  {name:<36}" + "".join(cells))


# ------------------------------------------------------------------------------- figures


def enqueue_rates(url: str, single: int, bulk: int, runs: int) -> tuple[float, float]:
    """Median jobs/s of ``perform_async`` one by one and of ``perform_bulk``."""
    app = Toro(url, load_entry_points=False)
    HistoryNoop.toro_app = app
    first = max_id(url)
    singles, bulks = [], []
    HistoryNoop.perform_async(-1)  # the pool is open before timing
    for _ in range(runs):
        started = time.perf_counter()
        for i in range(single):
            HistoryNoop.perform_async(i)
        singles.append(single / (time.perf_counter() - started))
        started = time.perf_counter()
        HistoryNoop.perform_bulk([(i,) for i in range(bulk)])
        bulks.append(bulk / (time.perf_counter() - started))
    app.close()
    drop_jobs_after(url, first)
    return statistics.median(singles), statistics.median(bulks)


def claim_rate(url: str, jobs: int, concurrency: int, runs: int) -> float:
    """Median jobs/s of one worker process (with the installed plugins) draining ``jobs``."""
    rates = []
    for _ in range(runs):
        first = max_id(url)
        app = Toro(url, load_entry_points=False)
        HistoryNoop.toro_app = app
        HistoryNoop.perform_bulk([(i,) for i in range(jobs)])
        app.close()
        settle(url)
        script = os.path.join(HERE, "bench_history.py")  # its --child-drain runs child_drain
        child = subprocess.run(
            [sys.executable, script, "--child-drain", url, str(jobs), str(concurrency)],
            check=True,
            capture_output=True,
            text=True,
        )
        rates.append(float(child.stdout.strip().splitlines()[-1]))
        drop_jobs_after(url, first)
    return statistics.median(rates)


def child_drain(url: str, jobs: int, concurrency: int) -> None:
    """In a child process: a worker process until the queued jobs are all finished."""
    import anyio

    from toro_core.runtime.process import WorkerProcess
    from toro_core.settings import WorkerSettings

    app = Toro(url)
    HistoryNoop.toro_app = app
    # no pruner of its own: the figures are the history's cost, and the prune is measured apart
    forever = Retention(complete=None, failed=None, cancelled=None)
    process = WorkerProcess(app, WorkerSettings(concurrency=concurrency, retention=forever))

    async def main() -> float:
        watcher = await psycopg.AsyncConnection.connect(url, autocommit=True)
        async with watcher, anyio.create_task_group() as group:
            started = time.perf_counter()
            group.start_soon(process.run)
            while True:
                await anyio.sleep(0.02)
                cursor = await watcher.execute(
                    # one EXISTS per status: each is a partial index's predicate (an IN list proves
                    # neither, and its plan read the whole table, history included, every time)
                    "SELECT EXISTS (SELECT 1 FROM toro_jobs WHERE status = 'queued')"
                    " OR EXISTS (SELECT 1 FROM toro_jobs WHERE status = 'running')"
                )
                row = await cursor.fetchone()
                if row is not None and not row[0]:
                    break
            elapsed = time.perf_counter() - started
            process.stop()
        return jobs / elapsed

    print(anyio.run(main))


@contextmanager
def steady_worker(url: str, concurrency: int) -> Iterator[subprocess.Popen[bytes]]:
    """A ``toro-core start`` process (its own pruner off: the prune measured is the command's)
    fed with jobs by :func:`feed`."""
    environment = dict(os.environ, TORO_DATABASE_URL=url, PYTHONPATH=HERE)
    environment["TORO_LOG_LEVEL"] = "WARNING"
    forever = [f"--keep-{status}=forever" for status in ("complete", "failed", "cancelled")]
    start = [sys.executable, "-m", "toro_core", "start", "-r", "history_parts"]
    start += ["-c", str(concurrency), *forever]
    worker = subprocess.Popen(start, env=environment)
    try:
        yield worker
    finally:
        worker.terminate()
        worker.wait(timeout=60)


def completed_since(conn: psycopg.Connection[Any], since: float) -> int:
    row = conn.execute(
        "SELECT count(*) FROM toro_jobs WHERE status = 'complete'"
        " AND finished_at > to_timestamp(%s) AND class_name = %s",
        (since, HistoryNoop.class_name()),
    ).fetchone()
    return int(row[0]) if row else 0


def feed(app: Toro, conn: psycopg.Connection[Any]) -> None:
    row = conn.execute("SELECT count(*) FROM toro_jobs WHERE status = 'queued'").fetchone()
    if row is not None and int(row[0]) < 20_000:
        HistoryNoop.perform_bulk([(i,) for i in range(20_000)])


def prune_under_load(url: str, concurrency: int, window: float) -> None:
    """Run ``toro-core prune`` while a worker works; print its throughput before and during."""
    app = Toro(url, load_entry_points=False)
    HistoryNoop.toro_app = app
    first = max_id(url)
    with connect(url) as conn, steady_worker(url, concurrency):
        launched = time.time()
        feed(app, conn)
        while completed_since(conn, launched) < 1000:  # the worker is up and busy
            if time.time() - launched > 300:
                raise RuntimeError("the worker process finished no job in 5 minutes")
            time.sleep(0.5)
        start = time.time()
        while time.time() - start < window:
            feed(app, conn)
            time.sleep(0.5)
        before = completed_since(conn, start) / (time.time() - start)
        environment = dict(os.environ, TORO_DATABASE_URL=url)
        started = time.time()
        keep = ("--keep-complete", "3d", "--keep-failed", "3d", "--keep-cancelled", "3d")
        prune = subprocess.Popen(
            [sys.executable, "-m", "toro_core", "prune", *keep],
            env=environment,
            stdout=subprocess.PIPE,
            text=True,
        )
        while prune.poll() is None:
            feed(app, conn)
            time.sleep(0.5)
        took = time.time() - started
        during = completed_since(conn, started) / took
        output = prune.stdout.read() if prune.stdout else ""
    app.close()
    print(f"  toro-core prune took {took:,.1f} s:")
    for line in output.splitlines():
        print(f"    {line}")
    print(f"  worker before the prune: {before:9,.0f} jobs/s ({window:.0f} s)")
    print(f"  worker during the prune: {during:9,.0f} jobs/s ({during / before:.0%} of before)")
    drop_jobs_after(url, first)


def monitor_pages(url: str, runs: int) -> None:
    """p50 and p95 of every page and partial of the monitor (scripts/bench_monitor.py's)."""
    sys.path.insert(0, HERE)
    import logging

    from bench_monitor import percentile, urls
    from litestar.testing import TestClient
    from toro_monitor import MonitorOptions, create_app

    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("toro.monitor").setLevel(logging.ERROR)
    toro = Toro(url)
    worst = 0.0
    with TestClient(create_app(toro, MonitorOptions(basic_auth=None))) as client:
        print(f"  {'page':<34} {'p50 ms':>8} {'p95 ms':>8}")
        for label, page, headers in urls(client):
            client.get(page, headers=headers)  # warm-up
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                response = client.get(page, headers=headers)
                times.append((time.perf_counter() - started) * 1000)
            p95 = percentile(times, 0.95)
            worst = max(worst, p95)
            status = "" if response.status_code == 200 else f"  HTTP {response.status_code}"
            print(f"  {label:<34} {statistics.median(times):8.1f} {p95:8.1f}{status}")
    toro.close()
    print(f"  slowest p95: {worst:.1f} ms")
