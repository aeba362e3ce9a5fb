"""Where the time of one enqueue goes: ``perform_async`` against a bare INSERT of the same row.

    python scripts/bench_enqueue.py [--n 3000] [--runs 3]

Each step adds one thing to the one before, on one connection where it can (microseconds per
call, median of the runs, all in one sitting on a database of its own, every installed plugin
migrated and loaded as users have them):

1. bare INSERT ... RETURNING * of the row (psycopg, one connection, autocommit);
2. + NOTIFY in the same statement (what wakes an idle worker);
3. toro's own insert statement (for a job without a unique key or limit) on that connection,
   with the parameters ``job_params`` built once;
4. + building the parameters per call (JSON checks of the arguments, the job name and
   headers hooks, the class's options);
5. ``perform_async``: + the pool checkout, reading the row back into a ``Job``, the
   ``job_enqueued`` hook.

Uses PostgreSQL at $TORO_BENCH_SERVER (default host=127.0.0.1 port=5432 user=postgres).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

sys.path.insert(0, str(Path(__file__).parent))
from bench import CONFIGURATIONS, SERVER, recreate, reset, worker_for

from toro_core.client import job_params
from toro_core.store.queries import query
from toro_core.testing import with_database

BARE = "INSERT INTO toro_jobs (class_name, args) VALUES (%s, %s) RETURNING *"
NOTIFYING = (
    "WITH j AS (INSERT INTO toro_jobs (class_name, args) VALUES (%s, %s) RETURNING *)"
    " SELECT j.*, pg_notify('toro_jobs', j.queue) FROM j"
)


def per_call(n: int, call: Callable[[int], object]) -> float:
    """Microseconds per call of ``call(i)`` over ``n`` calls, after a warm-up."""
    for i in range(100):
        call(i)
    start = time.perf_counter()
    for i in range(n):
        call(i)
    return 1e6 * (time.perf_counter() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    app = recreate("users")
    dbname = CONFIGURATIONS["users"][0]
    worker = worker_for("users")
    conninfo = with_database(SERVER, dbname)
    name = worker.class_name()
    steps: dict[str, list[float]] = {}
    with psycopg.connect(conninfo, autocommit=True) as conn:
        params = job_params(app, worker, [1], {})
        statement = query("insert_job_plain")  # the job has no unique key and no limit
        for _ in range(args.runs):
            reset(conninfo)
            results = {
                "1. bare INSERT ... RETURNING": per_call(
                    args.n, lambda i: conn.execute(BARE, (name, Jsonb([i]))).fetchone()
                ),
                "2. + NOTIFY in the statement": per_call(
                    args.n, lambda i: conn.execute(NOTIFYING, (name, Jsonb([i]))).fetchone()
                ),
                "3. toro's insert statement": per_call(
                    args.n, lambda i: conn.execute(statement, params).fetchone()
                ),
                "4. + job_params per call": per_call(
                    args.n,
                    lambda i: conn.execute(statement, job_params(app, worker, [i], {})).fetchone(),
                ),
                "5. perform_async (pool, Job, hooks)": per_call(
                    args.n, lambda i: worker.perform_async(i)
                ),
            }
            for step, value in results.items():
                steps.setdefault(step, []).append(value)
    app.close()
    print(f"one enqueue, us per call (median of {args.runs} runs of {args.n:,}):")
    previous: float | None = None
    bare = statistics.median(steps["1. bare INSERT ... RETURNING"])
    for step, values in steps.items():
        value = statistics.median(values)
        delta = "" if previous is None else f"  ({value - previous:+.0f})"
        print(f"  {step:<38} {value:6.0f}{delta}")
        previous = value
    assert previous is not None
    print(
        f"perform_async: {1e6 / previous:,.0f}/s, {bare / previous:.2f} of the bare insert's rate"
    )


if __name__ == "__main__":
    main()
