"""History at scale: what millions of finished jobs cost toro, and what pruning them costs.

    python scripts/bench_history.py                      # the issue's figures: 10,000,000 jobs
    python scripts/bench_history.py --jobs 200000        # a quick look (a few minutes)

Figures printed, not timed tests. PostgreSQL at $TORO_BENCH_SERVER (default
``host=127.0.0.1 port=5432 user=postgres dbname=postgres``); a database of its own,
``toro_bench_history`` (``--database``), recreated at the start and dropped at the end unless
``--keep``. The schema is toro-core's and every installed plugin's (as ``toro-core migrate``
makes it for a user with all plugins). Run it on a quiet machine: every figure is a rate, and
anything else running moves it. At 10,000,000 jobs the whole run takes about an hour and the
database about 8 GB.

1. Empty table: claim throughput of one worker process at ``-c 10`` (``--claim-jobs`` no-op
   ``async def perform`` jobs, queued beforehand, timed from the process's start until the
   last is written), enqueue one by one (``--single``) and in bulk (``--bulk`` per call).
2. Seed ``--jobs`` finished jobs with ``INSERT ... SELECT generate_series`` (complete, failed,
   cancelled; five queues, eight worker classes, errors on the failed ones), finished over the
   last 30 days, then VACUUM ANALYZE.
3. The same figures with the history in the table, each as a ratio of the empty table's.
4. Every page and partial of the monitor (scripts/bench_monitor.py's list): p50 and p95.
5. Table and index sizes.
6. ``toro-core prune --keep-complete 3d --keep-failed 3d --keep-cancelled 3d`` (about 90% of
   the history is older) while a worker process keeps processing a steady stream of jobs: the
   worker's throughput during the prune as a ratio of its throughput just before.
7. Table and index sizes after the prune, after VACUUM (space is reused, not returned), and
   after ``REINDEX TABLE CONCURRENTLY`` (what the indexes need for the rows left).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from toro_core import Retention, Toro, Worker, migrate
from toro_core.testing import with_database

SERVER = os.environ.get(
    "TORO_BENCH_SERVER", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
HERE = os.path.dirname(os.path.abspath(__file__))
#: Rows of history written per statement while seeding.
SEED_CHUNK = 500_000

SEED = """
INSERT INTO toro_jobs (queue, class_name, args, name, created_at, started_at, finished_at,
                       status, started_by, properties, attempt)
SELECT (ARRAY['default', 'mailers', 'reports', 'critical', 'low'])[1 + (g * 7) %% 5],
       (ARRAY['app.workers.SendEmail', 'app.workers.BuildReport', 'app.workers.ResizeImage',
              'app.workers.ChargeCard', 'app.workers.SyncInventory', 'app.workers.Cleanup',
              'app.workers.Notify', 'app.workers.Export'])[1 + (g * 13) %% 8],
       jsonb_build_array(g, 'user-' || (g %% 1000)),
       CASE WHEN g %% 5 = 0 THEN 'job #' || g END,
       t.at, t.at, t.at + make_interval(secs => (g %% 997) / 100.0),
       s.status,
       'worker-' || (g %% 4) || ':' || (1000 + g %% 8),
       CASE WHEN s.status = 'failed' THEN jsonb_build_object(
                'error:class', 'RuntimeError', 'error:message', 'boom ' || g,
                'error:backtrace', 'Traceback (most recent call last):' || E'\\n'
                                   || 'RuntimeError: boom ' || g)
            ELSE '{}'::jsonb END,
       1
  FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g,
       -- finished over the last 30 days, oldest first (ids grow with time, as they do)
       LATERAL (SELECT now() - interval '30 days'
                       + make_interval(secs => 2592000.0 * g / %(total)s) AS at) AS t,
       LATERAL (SELECT CASE WHEN g %% 100 < 90 THEN 'complete'
                            WHEN g %% 100 < 99 THEN 'failed'
                            ELSE 'cancelled' END AS status) AS s
"""

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


def recreate(url: str, name: str) -> None:
    with connect(SERVER) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    migrate.apply(url, Toro(url).migrations())


def seed(url: str, jobs: int) -> float:
    """Write ``jobs`` finished jobs; return the seconds it took (VACUUM ANALYZE included)."""
    started = time.perf_counter()
    with connect(url) as conn:
        for first in range(1, jobs + 1, SEED_CHUNK):
            last = min(first + SEED_CHUNK - 1, jobs)
            conn.execute(SEED, {"first": first, "last": last, "total": jobs})
            print(f"  seeded {last:,} of {jobs:,}", end="\r", flush=True)
        conn.execute("VACUUM ANALYZE toro_jobs")
    return time.perf_counter() - started


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
        script = os.path.join(HERE, "bench_history.py")
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
                    "SELECT EXISTS (SELECT 1 FROM toro_jobs WHERE status IN ('queued', 'running'))"
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
    start = [sys.executable, "-m", "toro_core", "start", "-r", "bench_history"]
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


# ------------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000_000, help="finished jobs to seed")
    parser.add_argument("--database", default="toro_bench_history")
    parser.add_argument("--claim-jobs", type=int, default=20_000, help="jobs per claim figure")
    parser.add_argument("--single", type=int, default=2_000, help="jobs enqueued one by one")
    parser.add_argument("--bulk", type=int, default=50_000, help="jobs per bulk enqueue")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--monitor-runs", type=int, default=40, help="requests per page")
    parser.add_argument("--window", type=float, default=30.0, help="seconds measured before")
    parser.add_argument("--keep", action="store_true", help="keep the database at the end")
    parser.add_argument("--child-drain", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_drain:
        url, jobs, concurrency = args.child_drain
        child_drain(url, int(jobs), int(concurrency))
        return 0
    url = with_database(SERVER, args.database)
    print(f"database {args.database}: toro-core's schema and every installed plugin's")
    recreate(url, args.database)
    try:
        run(url, args)
    finally:
        if not args.keep:
            with connect(SERVER) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    return 0


def run(url: str, args: argparse.Namespace) -> None:
    c = args.concurrency
    print("1. empty table")
    empty_claim = claim_rate(url, args.claim_jobs, c, args.runs)
    empty_single, empty_bulk = enqueue_rates(url, args.single, args.bulk, args.runs)
    print(f"  claim c={c}:          {empty_claim:9,.0f} jobs/s")
    print(f"  enqueue one by one: {empty_single:9,.0f} jobs/s")
    print(f"  bulk enqueue:       {empty_bulk:9,.0f} jobs/s ({args.bulk:,} per call)")
    print(f"2. seeding {args.jobs:,} finished jobs")
    print(f"  seeded in {seed(url, args.jobs):,.0f} s" + " " * 20)
    print(f"3. with {args.jobs:,} finished jobs in the table")
    full_claim = claim_rate(url, args.claim_jobs, c, args.runs)
    full_single, full_bulk = enqueue_rates(url, args.single, args.bulk, args.runs)
    for label, full, empty in (
        (f"claim c={c}:         ", full_claim, empty_claim),
        ("enqueue one by one:", full_single, empty_single),
        ("bulk enqueue:      ", full_bulk, empty_bulk),
    ):
        print(f"  {label} {full:9,.0f} jobs/s ({full / empty:.0%} of the empty table's)")
    print("4. monitor, every page and partial")
    monitor_pages(url, args.monitor_runs)
    before = sizes(url)
    print_sizes("5. sizes with the history", [("MB, rows' share", before)])
    print(f"6. toro-core prune of jobs older than 3 days while a worker works (c={c})")
    prune_under_load(url, c, args.window)
    pruned = sizes(url)
    settle(url)
    vacuumed = sizes(url)
    with connect(url) as conn:
        conn.execute("REINDEX TABLE CONCURRENTLY toro_jobs")
    reindexed = sizes(url)
    print_sizes(
        "7. sizes: before, after the prune, after VACUUM (freed space is reused by new rows,"
        " not returned), after REINDEX TABLE CONCURRENTLY",
        [
            ("before", before),
            ("pruned", pruned),
            ("vacuumed", vacuumed),
            ("reindexed", reindexed),
        ],
    )


if __name__ == "__main__":
    # run as the module bench_history, so that the jobs' class name is one a worker process
    # started with ``-r bench_history`` finds
    sys.path.insert(0, HERE)
    import bench_history

    sys.exit(bench_history.main())
