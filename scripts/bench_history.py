"""History at scale: what millions of finished jobs cost toro, and what pruning them costs.

    python scripts/bench_history.py                      # the issue's figures: 10,000,000 jobs
    python scripts/bench_history.py --jobs 200000        # a quick look (a few minutes)

Figures printed, not timed tests. PostgreSQL at $TORO_BENCH_SERVER (default
``host=127.0.0.1 port=5432 user=postgres dbname=postgres``); two databases of its own,
``toro_bench_history`` (``--database``) and ``toro_bench_history_empty``, recreated at the
start and dropped at the end unless ``--keep``. The schema is toro-core's and every installed
plugin's (as ``toro-core migrate`` makes it for a user with all plugins). Run it on a quiet
machine: every figure is a rate, and anything else running moves it. At 10,000,000 jobs the
whole run takes 15 to 60 minutes, as fast as the machine is, and the database about 8 GB.

1. Seed ``--jobs`` finished jobs with ``INSERT ... SELECT generate_series`` (complete, failed,
   cancelled; five queues, eight worker classes, errors on the failed ones), finished over the
   last 30 days, then VACUUM ANALYZE.
2. Claim throughput of one worker process at ``-c 10`` (``--claim-jobs`` no-op ``async def
   perform`` jobs, queued beforehand, timed from the process's start until the last is
   written), enqueue one by one (``--single``) and in bulk (``--bulk`` per call), run for run
   on the history's database and on a second one kept empty (``<database>_empty``), and each
   median as a ratio of the empty one's: the machine's speed drifts by tens of percent within
   minutes, so figures taken before the seeding would compare two different machines.
3. Every page and partial of the monitor (scripts/bench_monitor.py's list): p50 and p95.
4. Table and index sizes.
5. ``toro-core prune --keep-complete 3d --keep-failed 3d --keep-cancelled 3d`` (about 90% of
   the history is older) while a worker process keeps processing a steady stream of jobs: the
   worker's throughput during the prune as a ratio of its throughput just before.
6. Table and index sizes after the prune, after VACUUM (space is reused, not returned), and
   after ``REINDEX TABLE CONCURRENTLY`` (what the indexes need for the rows left).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from history_parts import (
    SERVER,
    child_drain,
    claim_rate,
    connect,
    enqueue_rates,
    monitor_pages,
    print_sizes,
    prune_under_load,
    settle,
    sizes,
)

from toro_core import Toro, migrate
from toro_core.testing import with_database

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
    empty = f"{args.database}_empty"
    print(
        f"databases {args.database} and {empty} (kept empty): toro-core's schema and every"
        " installed plugin's"
    )
    recreate(url, args.database)
    recreate(with_database(SERVER, empty), empty)
    try:
        run(url, with_database(SERVER, empty), args)
    finally:
        if not args.keep:
            with connect(SERVER) as conn:
                for name in (args.database, empty):
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


def run(url: str, empty_url: str, args: argparse.Namespace) -> None:
    c = args.concurrency
    print(f"1. seeding {args.jobs:,} finished jobs")
    print(f"  seeded in {seed(url, args.jobs):,.0f} s" + " " * 20)
    print(
        f"2. with {args.jobs:,} finished jobs in the table, against an empty table measured"
        " run for run beside it (medians)"
    )
    claims: dict[str, list[float]] = {"empty": [], "full": []}
    singles: dict[str, list[float]] = {"empty": [], "full": []}
    bulks: dict[str, list[float]] = {"empty": [], "full": []}
    for _ in range(args.runs):
        for name, target in (("empty", empty_url), ("full", url)):
            claims[name].append(claim_rate(target, args.claim_jobs, c, 1))
            single, bulk = enqueue_rates(target, args.single, args.bulk, 1)
            singles[name].append(single)
            bulks[name].append(bulk)
    for label, figures in (
        (f"claim c={c}:", claims),
        ("enqueue one by one:", singles),
        (f"bulk of {args.bulk:,}:", bulks),
    ):
        full, empty = statistics.median(figures["full"]), statistics.median(figures["empty"])
        print(f"  {label:20} {full:9,.0f} jobs/s, empty {empty:9,.0f} ({full / empty:.0%})")
    print("3. monitor, every page and partial")
    monitor_pages(url, args.monitor_runs)
    before = sizes(url)
    print_sizes("4. sizes with the history", [("MB, rows' share", before)])
    print(f"5. toro-core prune of jobs older than 3 days while a worker works (c={c})")
    prune_under_load(url, c, args.window)
    pruned = sizes(url)
    settle(url)
    vacuumed = sizes(url)
    with connect(url) as conn:
        conn.execute("REINDEX TABLE CONCURRENTLY toro_jobs")
    reindexed = sizes(url)
    print_sizes(
        "6. sizes: before, after the prune, after VACUUM (freed space is reused by new rows,"
        " not returned), after REINDEX TABLE CONCURRENTLY",
        [
            ("before", before),
            ("pruned", pruned),
            ("vacuumed", vacuumed),
            ("reindexed", reindexed),
        ],
    )


if __name__ == "__main__":
    sys.exit(main())
