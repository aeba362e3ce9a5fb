"""toro-metrics' time budgets: queue metrics and the Overview page on a large table, and what
the plugin costs a worker's no-op throughput.

Queue metrics and the Overview (a database seeded first, 10 M jobs for the issue's figure)::

    python scripts/seed_jobs.py --database-url "dbname=toro_big ..." --jobs 10000000 \\
        --create --migrate --reset
    python scripts/bench_metrics.py --database-url "dbname=toro_big ..." --seed-rollup

``--seed-rollup`` fills the per-minute rollup with eight days of minutes for the seeded queues
(what worker processes would have written; replaces the rows of that period). Then every URL is
requested ``--runs`` times through Litestar's test client in this process (the whole server
side: routing, auth, queries, rendering): the monitor's ``/metrics`` (budget ``--scrape-budget``,
250 ms at the 95th percentile, so Prometheus may scrape every 15 s) and the Overview page and its
htmx partial (``--page-budget``, 100 ms). Exits 1 when a p95 is over its budget.

Hot-path cost (a scratch database ``toro_bench_metrics`` on ``$TORO_BENCH_SERVER``)::

    python scripts/bench_metrics.py --throughput [--n 10000] [--c 10] [--runs 5]

runs ``--n`` pre-queued no-op jobs in one worker process at concurrency ``--c``, alternately
without and with toro-metrics (endpoint served, rollup written, no tracing SDK), the same
workload as ``scripts/bench.py``; prints the medians and exits 1 when the plugin costs more than
``--max-cost`` (5 %) of the throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time

import psycopg

from toro_core import Worker

SERVER = os.environ.get(
    "TORO_BENCH_SERVER", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)

SEED_ROLLUP = """
DELETE FROM toro_metrics_minutes WHERE minute >= date_trunc('minute', now()) - interval '8 days';
INSERT INTO toro_metrics_minutes
       (minute, queue, status, jobs, duration_sum, wait_sum, wait_counts)
SELECT m.minute, q.queue, s.status,
       s.jobs, s.jobs * 0.2, s.jobs * 0.4,
       ARRAY[0, 0, 0, 0, 0, s.jobs / 2, s.jobs - s.jobs / 2 - s.jobs / 10, s.jobs / 10,
             0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]::bigint[]
  FROM generate_series(date_trunc('minute', now()) - interval '8 days',
                       date_trunc('minute', now()), interval '1 minute') AS m(minute),
       (SELECT queue FROM toro_jobs WHERE status = 'queued' GROUP BY queue) AS q,
       (VALUES ('complete', 600), ('failed', 12), ('scheduled', 30)) AS s(status, jobs);
ANALYZE toro_metrics_minutes;
"""


class BenchNoop(Worker):
    """The no-op job (``__main__.BenchNoop``: the script is the worker's child too)."""

    async def perform(self, i: int) -> None:
        pass


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))]


# ------------------------------------------------------------------ queue metrics, Overview


def budgets(args: argparse.Namespace) -> int:
    import logging

    import toro_metrics.plugin as metrics_plugin
    import toro_monitor.plugin as monitor_plugin
    from litestar.testing import TestClient
    from toro_monitor import MonitorOptions, create_app

    from toro_core import Toro

    if args.seed_rollup:
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            conn.execute(SEED_ROLLUP)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    toro = Toro(
        args.database_url, plugins=[monitor_plugin, metrics_plugin], load_entry_points=False
    )
    app = create_app(toro, MonitorOptions(basic_auth=None))
    hx = {"HX-Request": "true"}
    urls = [
        ("/metrics (queue metrics)", "/metrics", {}, args.scrape_budget),
        ("Overview page", "/overview", {}, args.page_budget),
        ("Overview partial (htmx poll)", "/overview", hx, args.page_budget),
    ]
    over = 0
    with TestClient(app) as client:
        rows = re.search(r"toro_queue_metrics_seconds ([\d.e+-]+)", client.get("/metrics").text)
        with psycopg.connect(args.database_url) as conn:
            size = conn.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE relname = 'toro_jobs'"
            )
            estimate = size.fetchone()
        print(f"toro_jobs: ~{estimate[0] if estimate else '?':,} rows; {args.runs} runs per URL")
        print(f"{'what':<32} {'p50 ms':>8} {'p95 ms':>8} {'budget':>7}  status")
        for label, url, headers, budget in urls:
            client.get(url, headers=headers)  # warm-up
            times, status = [], 0
            for _ in range(args.runs):
                started = time.perf_counter()
                status = client.get(url, headers=headers).status_code
                times.append((time.perf_counter() - started) * 1000)
            p50, p95 = statistics.median(times), percentile(times, 0.95)
            flag = "" if p95 <= budget and status == 200 else "  OVER BUDGET"
            over += bool(flag)
            print(f"{label:<32} {p50:8.1f} {p95:8.1f} {budget:7.0f}  {status}{flag}")
        if rows:
            print(f"(the last snapshot's own time: {float(rows.group(1)) * 1000:.1f} ms)")
    toro.close()
    return 1 if over else 0


# ------------------------------------------------------------------ hot-path cost

BENCH_DB = "toro_bench_metrics"


def bench_db() -> str:
    from toro_core.testing import with_database

    return with_database(SERVER, BENCH_DB)


def recreate() -> None:
    import toro_metrics.plugin as metrics_plugin

    from toro_core import Toro, migrate

    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")
    app = Toro(bench_db(), plugins=[metrics_plugin], load_entry_points=False)
    migrate.apply(bench_db(), app.migrations())


def one_run(n: int, c: int, with_metrics: bool) -> dict[str, float]:
    """Queue ``n`` no-op jobs, run them in a child process; its figures."""
    with psycopg.connect(bench_db(), autocommit=True) as conn:
        conn.execute("TRUNCATE toro_jobs RESTART IDENTITY")
        conn.execute(
            "INSERT INTO toro_jobs (queue, class_name, args)"
            " SELECT 'default', %s, jsonb_build_array(g)"
            " FROM generate_series(1, %s) AS g",
            (BenchNoop.class_name(), n),
        )
        conn.execute("VACUUM ANALYZE toro_jobs")
        conn.execute("CHECKPOINT")
    out = subprocess.run(
        [sys.executable, __file__, "--child", "--n", str(n), "--c", str(c)]
        + (["--with-metrics"] if with_metrics else []),
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def child(n: int, c: int, with_metrics: bool) -> None:
    """Inside the child: a worker process (with or without toro-metrics) until every job is
    written; print jobs/s and CPU per job."""
    import anyio

    from toro_core import Toro
    from toro_core.runtime.process import WorkerProcess
    from toro_core.settings import WorkerSettings

    plugins: list[object] = []
    options: dict[str, object] = {}
    if with_metrics:
        import toro_metrics.plugin as metrics_plugin

        plugins, options = [metrics_plugin], {"metrics_port": 0, "metrics_host": "127.0.0.1"}
    app = Toro(bench_db(), plugins=plugins, load_entry_points=False)
    process = WorkerProcess(app, WorkerSettings(concurrency=c, plugin_options=options))

    async def main() -> dict[str, float]:
        watcher = await psycopg.AsyncConnection.connect(bench_db(), autocommit=True)
        async with watcher, anyio.create_task_group() as group:
            cpu0 = resource.getrusage(resource.RUSAGE_SELF)
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
            cpu1 = resource.getrusage(resource.RUSAGE_SELF)
            process.stop()
        cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
        return {"jobs_per_s": n / elapsed, "cpu_us_per_job": 1e6 * cpu / n}

    print(json.dumps(anyio.run(main, backend="asyncio")))


def throughput(args: argparse.Namespace) -> int:
    recreate()
    one_run(min(args.n, 1000), args.c, True)  # warm the server's caches
    without, with_ = [], []
    for _ in range(args.runs):  # alternate, so drift in the machine's load hits both alike
        without.append(one_run(args.n, args.c, False))
        with_.append(one_run(args.n, args.c, True))
    base = statistics.median(r["jobs_per_s"] for r in without)
    plugged = statistics.median(r["jobs_per_s"] for r in with_)
    cost = 1 - plugged / base
    for label, runs in (("without toro-metrics", without), ("with toro-metrics", with_)):
        rate = statistics.median(r["jobs_per_s"] for r in runs)
        cpu = statistics.median(r["cpu_us_per_job"] for r in runs)
        print(
            f"{label:<22} {rate:>9,.0f} jobs/s  worker CPU {cpu:5.0f} us/job"
            f"  (median of {args.runs})"
        )
    verdict = "within" if cost <= args.max_cost else "OVER"
    print(f"cost: {cost:+.1%} of the throughput ({verdict} the {args.max_cost:.0%} budget)")
    return 0 if cost <= args.max_cost else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a seeded database (queue metrics, Overview)")
    parser.add_argument("--seed-rollup", action="store_true", help="fill 8 days of rollup first")
    parser.add_argument("--runs", type=int, default=None, help="requests per URL / runs")
    parser.add_argument("--scrape-budget", type=float, default=250.0, help="ms, /metrics p95")
    parser.add_argument("--page-budget", type=float, default=100.0, help="ms, Overview p95")
    parser.add_argument("--throughput", action="store_true", help="measure the hot-path cost")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--c", type=int, default=10)
    parser.add_argument("--max-cost", type=float, default=0.05)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--with-metrics", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.n, args.c, args.with_metrics)
        return 0
    if args.throughput:
        args.runs = args.runs or 5
        return throughput(args)
    if not args.database_url:
        parser.error("--database-url is required (or --throughput)")
    args.runs = args.runs or 40
    return budgets(args)


if __name__ == "__main__":
    sys.exit(main())
