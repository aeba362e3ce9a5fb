"""toro's benchmark: enqueue one by one, bulk enqueue, and no-op throughput of one worker process.

    python scripts/bench.py [--n 10000] [--c 10] [--history 1000000]

Uses PostgreSQL at $TORO_BENCH_SERVER (default host=127.0.0.1 port=5432 user=postgres) and a
database of its own (toro_bench, recreated). Prints one line per figure. The throughput run is
the peer benchmark's workload (../shared/peer-bench): N pre-queued no-op async jobs, one worker
process at concurrency c, timed from the worker's start until every job is written complete.
With --history, it then loads that many finished jobs and runs the throughput figure again, to
show that a claim does not get slower as history grows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import psycopg

from toro_core import Toro, Worker, migrate
from toro_core.testing import with_database

SERVER = os.environ.get(
    "TORO_BENCH_SERVER", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
DB = with_database(SERVER, "toro_bench")


class BenchNoop(Worker):
    async def perform(self, i: int) -> None:
        pass


def recreate(all_plugins: bool = False) -> Toro:
    """A fresh database with core's schema, or every installed plugin's (the monitor's indexes
    included) with ``all_plugins``."""
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS toro_bench WITH (FORCE)")
        conn.execute("CREATE DATABASE toro_bench")
    migrate.apply(DB, Toro(DB, load_entry_points=all_plugins).migrations())
    app = Toro(DB, load_entry_points=False)
    BenchNoop.toro_app = app
    return app


def reset() -> None:
    with psycopg.connect(DB, autocommit=True) as conn:
        conn.execute("TRUNCATE toro_jobs RESTART IDENTITY")
        conn.execute("VACUUM ANALYZE toro_jobs")
        conn.execute("CHECKPOINT")


def bench_enqueue_single(n: int) -> float:
    reset()
    BenchNoop.perform_async(-1)  # open the pool before timing
    start = time.perf_counter()
    for i in range(n):
        BenchNoop.perform_async(i)
    return n / (time.perf_counter() - start)


def bench_enqueue_bulk(n: int) -> float:
    reset()
    start = time.perf_counter()
    BenchNoop.perform_bulk([(i,) for i in range(n)])
    return n / (time.perf_counter() - start)


def bench_process(n: int, c: int, keep_history: bool = False) -> dict[str, float]:
    if not keep_history:
        reset()
    BenchNoop.perform_bulk([(i,) for i in range(n)])
    with psycopg.connect(DB, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE toro_jobs")
        conn.execute("CHECKPOINT")
    out = subprocess.run(
        [sys.executable, __file__, "--worker", "--n", str(n), "--c", str(c)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def worker_main(n: int, c: int) -> None:
    """Inside the child: run a WorkerProcess until the n jobs are complete; print figures."""
    import anyio

    from toro_core.runtime.process import WorkerProcess
    from toro_core.settings import WorkerSettings

    app = Toro(DB, load_entry_points=False)
    BenchNoop.toro_app = app
    process = WorkerProcess(app, WorkerSettings(concurrency=c))

    async def main() -> dict[str, float]:
        result: dict[str, float] = {}
        watcher = await psycopg.AsyncConnection.connect(DB, autocommit=True)
        async with watcher, anyio.create_task_group() as tg:
            cpu0 = resource.getrusage(resource.RUSAGE_SELF)
            start = time.perf_counter()
            tg.start_soon(process.run)
            while True:
                await anyio.sleep(0.02)
                cur = await watcher.execute(
                    "SELECT EXISTS (SELECT 1 FROM toro_jobs WHERE status IN ('queued', 'running'))"
                )
                row = await cur.fetchone()
                if row is not None and not row[0]:
                    break
            elapsed = time.perf_counter() - start
            cpu1 = resource.getrusage(resource.RUSAGE_SELF)
            result = {
                "jobs_per_s": n / elapsed,
                "seconds": elapsed,
                "worker_cpu_us_per_job": 1e6
                * ((cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime))
                / n,
            }
            process.stop()
        return result

    print(json.dumps(anyio.run(main, backend="asyncio")))


def load_history(rows: int) -> None:
    with psycopg.connect(DB, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO toro_jobs"
            " (queue, class_name, args, status, started_at, finished_at, attempt)"
            " SELECT 'default', 'bench.History', '[]', 'complete', now(), now(), 1"
            " FROM generate_series(1, %s)",
            (rows,),
        )
        conn.execute("VACUUM ANALYZE toro_jobs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--c", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bulk", type=int, default=100_000)
    parser.add_argument("--history", type=int, default=0)
    parser.add_argument(
        "--all-migrations",
        action="store_true",
        help="apply every installed plugin's migrations (the monitor's indexes cost writes)",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args.n, args.c)
        return
    recreate(args.all_migrations)
    print("schema: " + ("core and every installed plugin" if args.all_migrations else "core only"))
    single = [bench_enqueue_single(min(args.n, 5000)) for _ in range(args.runs)]
    print(f"enqueue one by one: {statistics.median(single):>9,.0f} jobs/s (median of {args.runs})")
    bulk = [bench_enqueue_bulk(args.bulk) for _ in range(args.runs)]
    print(
        f"bulk enqueue:       {statistics.median(bulk):>9,.0f} jobs/s ({args.bulk:,} jobs per call)"
    )
    for c in (args.c, 1):
        runs = [bench_process(args.n, c) for _ in range(args.runs)]
        rate = statistics.median(r["jobs_per_s"] for r in runs)
        cpu = statistics.median(r["worker_cpu_us_per_job"] for r in runs)
        print(
            f"process c={c:<3}      {rate:>9,.0f} jobs/s "
            f"({args.n:,} no-op jobs, worker CPU {cpu:.0f} us/job)"
        )
    if args.history:
        reset()
        load_history(args.history)
        runs = [bench_process(args.n, args.c, keep_history=True) for _ in range(args.runs)]
        rate = statistics.median(r["jobs_per_s"] for r in runs)
        print(
            f"process c={args.c} with {args.history:,} finished jobs in the table: "
            f"{rate:,.0f} jobs/s"
        )


if __name__ == "__main__":
    main()
