"""toro's benchmark: enqueue one by one, bulk enqueue, and no-op throughput of one worker process,
in the configuration users run beside the kernel alone.

    python scripts/bench.py [--n 10000] [--c 10] [--runs 3] [--history 1000000]
    python scripts/bench.py --configurations users,core,users-async,core-sync
    python scripts/bench.py --configurations four,four-async,core-sync,core

Two configurations, each on a database of its own (recreated):

* **users**: every installed plugin migrated and loaded (the example plugin left out, as users
  would not install it), a plain ``def perform``, the worker started as users start it
  (``toro-core start -r bench_workers -c C`` with its default logging);
* **core**: toro-core's schema only, no plugin, ``async def perform``, the same command;
* **users-async** and **core-sync** (on request): the other two corners, so the plugins' cost
  is read at one kind of perform;
* **four** and **four-async** (on request): the four plugins of the product card alone
  (retry, scheduler, properties, monitor; ``TORO_PLUGINS``), ``def`` and ``async def perform``;
* **users-async-bare** (on request, a what-if): users-async with the monitor's index of
  ``toro_jobs`` dropped (``scripts/bench_indexes.sql``), to read what it costs; the monitor
  needs it on a large table.

The latency figure enqueues jobs one by one, 20 ms apart, to an idle worker and reads when each
``perform`` started (the job returns ``time.time()``): from the enqueue call, and from its
return, which is the commit.

The throughput figure starts the worker on an empty queue, waits until it is registered and idle,
then enqueues N no-op jobs in one bulk call and times from that commit until every job is written
complete (by the database's clock); the worker's CPU per job is read from /proc over the same
span. Enqueue figures run ``perform_async`` / ``perform_bulk`` in this process with the
configuration's plugins loaded. Uses PostgreSQL at $TORO_BENCH_SERVER (default host=127.0.0.1
port=5432 user=postgres). Prints one line per figure; compare figures of one sitting only.
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
from pathlib import Path
from unittest.mock import patch

import psycopg

from toro_core import Toro, Worker, migrate
from toro_core.store.queries import parse_queries
from toro_core.testing import with_database

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from bench_workers import AsyncNoop, AsyncStamp, SyncNoop, SyncStamp  # noqa: E402

SERVER = os.environ.get(
    "TORO_BENCH_SERVER", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
TICKS = os.sysconf("SC_CLK_TCK")
#: Every installed plugin but the example one, as users would install them.
EVERY = {"TORO_DISABLE_PLUGINS": "example"}
#: The four plugins of the product card alone.
FOUR = {"TORO_PLUGINS": "retry,scheduler,properties,monitor"}
CONFIGURATIONS: dict[str, tuple[str, dict[str, str] | None, type[Worker]]] = {
    # name: (database, the plugin selection's variables or None for no plugin, worker class)
    "users": ("toro_bench_users", EVERY, SyncNoop),
    "core": ("toro_bench_core", None, AsyncNoop),
    # the other two corners, for the plugins' cost at one kind of perform
    "users-async": ("toro_bench_users_async", EVERY, AsyncNoop),
    "core-sync": ("toro_bench_core_sync", None, SyncNoop),
    # the four plugins alone (no toro-metrics, no toro-demo)
    "four": ("toro_bench_four", FOUR, SyncNoop),
    "four-async": ("toro_bench_four_async", FOUR, AsyncNoop),
    # a what-if: users-async without the monitor's index (WHAT_IF)
    "users-async-bare": ("toro_bench_users_async_bare", EVERY, AsyncNoop),
}
#: The block of scripts/bench_indexes.sql each what-if configuration runs once migrated.
WHAT_IF = {
    "users-async-bare": "no_monitor_index",
}
#: Whether any job is queued or running, read from the kernel's partial indexes (a scan of the
#: table every 10 ms would tax the worker when history is in it).
UNFINISHED = (
    "SELECT EXISTS (SELECT 1 FROM toro_jobs WHERE status = 'queued')"
    " OR EXISTS (SELECT 1 FROM toro_jobs WHERE status = 'running')"
)
#: The client app of each configuration, made by :func:`recreate`.
APPS: dict[str, Toro] = {}
LEGEND = {
    "users": "def perform, every installed plugin, toro-core start with its defaults",
    "core": "async def perform, toro-core's schema only, no plugin, toro-core start",
    "users-async": "async def perform, every installed plugin, toro-core start",
    "core-sync": "def perform, toro-core's schema only, no plugin, toro-core start",
    "four": "def perform, toro-retry, -scheduler, -properties and -monitor only, toro-core start",
    "four-async": "async def perform, the same four plugins only, toro-core start",
    "users-async-bare": "users-async without the monitor's index (what-if)",
}


def recreate(name: str) -> Toro:
    """A fresh database for the configuration, migrated; the client app enqueueing into it."""
    dbname, plugins, _ = CONFIGURATIONS[name]
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {dbname}")
    conninfo = with_database(SERVER, dbname)
    with patch.dict(os.environ):  # the plugins are chosen when the app is made
        for key in ("TORO_PLUGINS", "TORO_DISABLE_PLUGINS"):
            os.environ.pop(key, None)
        os.environ.update(plugins or {})
        app = Toro(conninfo, load_entry_points=plugins is not None)
    migrate.apply(conninfo, app.migrations())
    if name in WHAT_IF:
        layout = parse_queries((HERE / "bench_indexes.sql").read_text())[WHAT_IF[name]]
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(layout)
    APPS[name] = app
    return app


def worker_for(name: str) -> type[Worker]:
    """The configuration's worker class, enqueueing into the configuration's database (two
    configurations may share a class)."""
    worker = CONFIGURATIONS[name][2]
    worker.toro_app = APPS[name]
    return worker


def worker_env(name: str) -> dict[str, str]:
    dbname, plugins, _ = CONFIGURATIONS[name]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TORO_")}
    env["TORO_DATABASE_URL"] = with_database(SERVER, dbname)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    if plugins is None:
        env["TORO_PLUGINS"] = ""
    else:
        env.update(plugins)
    return env


def reset(conninfo: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("TRUNCATE toro_jobs RESTART IDENTITY CASCADE")
        conn.execute("VACUUM ANALYZE toro_jobs")
        conn.execute("CHECKPOINT")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU of a process so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


@contextmanager
def cli_worker(name: str, c: int) -> Iterator[subprocess.Popen[bytes]]:
    """``toro-core start -r bench_workers -c C`` on the configuration's database, registered and
    idle when the block starts; stopped (SIGTERM) after it."""
    conninfo = with_database(SERVER, CONFIGURATIONS[name][0])
    exe = Path(sys.executable).parent / "toro-core"
    process = subprocess.Popen(
        [str(exe), "start", "-r", "bench_workers", "-c", str(c)],
        env=worker_env(name),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            deadline = time.monotonic() + 60
            while not conn.execute("SELECT count(*) FROM toro_processes").fetchone()[0]:  # type: ignore[index]
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the {name} worker did not start (exit {process.poll()})")
                time.sleep(0.05)
        time.sleep(0.5)  # its first claim found nothing; now it waits for a notification
        yield process
    finally:
        process.terminate()
        process.wait(60)


def bench_process(name: str, n: int, c: int, history: bool = False) -> tuple[float, float]:
    """Jobs per second and worker CPU microseconds per job for N jobs enqueued to an idle
    worker (with ``history``, the finished jobs of :func:`load_history` stay in the table)."""
    conninfo = with_database(SERVER, CONFIGURATIONS[name][0])
    worker = worker_for(name)
    if history:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("DELETE FROM toro_jobs WHERE class_name <> 'bench.History'")
            conn.execute("VACUUM ANALYZE toro_jobs")
    else:
        reset(conninfo)
    with cli_worker(name, c) as process, psycopg.connect(conninfo, autocommit=True) as watch:
        cpu0 = cpu_seconds(process.pid)
        start = time.perf_counter()
        worker.perform_bulk([(i,) for i in range(n)])
        while watch.execute(UNFINISHED).fetchone()[0]:  # type: ignore[index]
            time.sleep(0.01)
        elapsed = time.perf_counter() - start
        cpu = cpu_seconds(process.pid) - cpu0
        done = watch.execute(
            "SELECT count(*) FROM toro_jobs"
            " WHERE status = 'complete' AND class_name <> 'bench.History'"
        )
        assert done.fetchone()[0] == n, "not every job completed"  # type: ignore[index]
    return n / elapsed, 1e6 * cpu / n


def bench_latency(name: str, n: int, spacing: float = 0.02) -> tuple[list[float], list[float]]:
    """Milliseconds from the enqueue call, and from its return (the commit), to the start of
    ``perform`` on an idle worker, for ``n`` jobs enqueued ``spacing`` seconds apart."""
    conninfo = with_database(SERVER, CONFIGURATIONS[name][0])
    stamp = SyncStamp if CONFIGURATIONS[name][2] is SyncNoop else AsyncStamp
    stamp.toro_app = APPS[name]
    reset(conninfo)
    sent: dict[int, tuple[float, float]] = {}
    with cli_worker(name, 10), psycopg.connect(conninfo, autocommit=True) as watch:
        stamp.perform_async()  # the pool opened, the worker's first job run
        for _ in range(n):
            time.sleep(spacing)
            before = time.time()
            job = stamp.perform_async()
            sent[job.id] = (before, time.time())
        deadline = time.monotonic() + 30
        while watch.execute(UNFINISHED).fetchone()[0]:  # type: ignore[index]
            if time.monotonic() > deadline:
                raise SystemExit(f"the {name} worker did not run the latency jobs")
            time.sleep(0.01)
        rows = watch.execute(
            "SELECT id, result FROM toro_jobs WHERE id = ANY(%s)", (list(sent),)
        ).fetchall()
    from_call = [1e3 * (row[1] - sent[row[0]][0]) for row in rows]
    from_commit = [1e3 * (row[1] - sent[row[0]][1]) for row in rows]
    return from_call, from_commit


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_enqueue_single(name: str, n: int) -> float:
    worker = worker_for(name)
    reset(with_database(SERVER, CONFIGURATIONS[name][0]))
    worker.perform_async(-1)  # open the pool before timing
    start = time.perf_counter()
    for i in range(n):
        worker.perform_async(i)
    return n / (time.perf_counter() - start)


def bench_enqueue_bulk(name: str, n: int) -> float:
    worker = worker_for(name)
    reset(with_database(SERVER, CONFIGURATIONS[name][0]))
    start = time.perf_counter()
    worker.perform_bulk([(i,) for i in range(n)])
    return n / (time.perf_counter() - start)


def load_history(conninfo: str, rows: int) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO toro_jobs"
            " (queue, class_name, args, status, started_at, finished_at, attempt)"
            " SELECT 'default', 'bench.History', '[]', 'complete', now(), now(), 1"
            " FROM generate_series(1, %s)",
            (rows,),
        )
        conn.execute("VACUUM ANALYZE toro_jobs")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="jobs per throughput run")
    parser.add_argument("--c", type=int, default=10, help="the worker's concurrency")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--bulk", type=int, default=100_000, help="jobs per bulk call")
    parser.add_argument("--single", type=int, default=5_000, help="jobs enqueued one by one")
    parser.add_argument(
        "--configurations", default="users,core", help="which to run: " + ", ".join(CONFIGURATIONS)
    )
    parser.add_argument(
        "--history", type=int, default=0, help="then again with this many finished jobs"
    )
    parser.add_argument(
        "--latency", type=int, default=200, help="jobs per latency run (20 ms apart; 0: none)"
    )
    args = parser.parse_args()
    names = [name.strip() for name in args.configurations.split(",") if name.strip()]
    for name in names:
        if name not in CONFIGURATIONS:
            parser.error(f"--configurations: {name!r} is not one of {', '.join(CONFIGURATIONS)}")
    apps = {name: recreate(name) for name in names}
    figures: dict[str, dict[str, str]] = {name: {} for name in names}
    for name in names:
        runs = [bench_enqueue_single(name, args.single) for _ in range(args.runs)]
        figures[name]["enqueue one by one"] = f"{statistics.median(runs):,.0f}/s"
        runs = [bench_enqueue_bulk(name, args.bulk) for _ in range(args.runs)]
        figures[name][f"bulk enqueue ({args.bulk:,} a call)"] = f"{statistics.median(runs):,.0f}/s"
    for c in (args.c, 1):
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
        for _ in range(args.runs):  # the configurations interleaved run by run
            for name in names:
                results[name].append(bench_process(name, args.n, c))
        for name in names:
            rate = statistics.median(r[0] for r in results[name])
            cpu = statistics.median(r[1] for r in results[name])
            figures[name][f"process c={c}"] = f"{rate:,.0f} jobs/s, worker CPU {cpu:.0f} us/job"
    for name in names if args.latency else ():
        calls: list[float] = []
        commits: list[float] = []
        for _ in range(args.runs):
            from_call, from_commit = bench_latency(name, args.latency)
            calls += from_call
            commits += from_commit
        figures[name][f"latency, {args.latency} jobs 20 ms apart"] = (
            f"enqueue call to start p50 {percentile(calls, 0.5):.1f} ms, "
            f"p99 {percentile(calls, 0.99):.1f} ms; commit to start p50 "
            f"{percentile(commits, 0.5):.1f} ms, p99 {percentile(commits, 0.99):.1f} ms"
        )
    if args.history:
        for name in names:
            conninfo = with_database(SERVER, CONFIGURATIONS[name][0])
            reset(conninfo)
            load_history(conninfo, args.history)
            timed = [bench_process(name, args.n, args.c, history=True) for _ in range(args.runs)]
            rate = statistics.median(r[0] for r in timed)
            figures[name][f"process c={args.c}, {args.history:,} finished jobs"] = (
                f"{rate:,.0f} jobs/s"
            )
    print(f"{args.n:,} no-op jobs per throughput run, median of {args.runs}")
    label = max(len(name) for name in names)
    for name in names:
        print(f"{name + ':':<{label + 1}} {LEGEND[name]}")
    width = max(len(figure) for values in figures.values() for figure in values)
    for name in names:
        for figure, value in figures[name].items():
            print(f"{name:<{label}} {figure:<{width}}  {value}")
    for app in apps.values():
        app.close()


if __name__ == "__main__":
    main()
