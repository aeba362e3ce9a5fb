"""Seed a toro database with many jobs, fast, for the monitor's benchmark and demos.

    python scripts/seed_jobs.py --database-url postgresql://postgres@127.0.0.1/toro_bench \
        --jobs 1000000 --create --migrate

One ``INSERT ... SELECT generate_series`` per chunk writes jobs spread over five queues, eight
worker classes and the core statuses (mostly complete, some failed with an error and a retry
history, some queued, and ``--running`` running ones among the newest, as many as a fleet's
slots: a job runs only while a worker process holds it); every fifth job has a display name.
``--create`` creates the database, ``--migrate`` applies core's and every installed plugin's
migrations, ``--reset`` empties ``toro_jobs`` first. The table is analysed at the end, so
estimates are right at once.
"""

from __future__ import annotations

import argparse
import time

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

SEED_CHUNK = """
INSERT INTO toro_jobs (queue, class_name, args, name, created_at, scheduled_at, started_at,
                       finished_at, status, started_by, properties, attempt)
SELECT (ARRAY['default', 'mailers', 'reports', 'critical', 'low'])[1 + (g * 7) %% 5],
       (ARRAY['app.workers.SendEmail', 'app.workers.BuildReport', 'app.workers.ResizeImage',
              'app.workers.ChargeCard', 'app.workers.SyncInventory', 'app.workers.Cleanup',
              'app.workers.Notify', 'app.workers.Export'])[1 + (g * 13) %% 8],
       jsonb_build_array(g, 'user-' || (g %% 1000)),
       CASE WHEN g %% 5 = 0 THEN 'job #' || g END,
       t.created,
       NULL,
       CASE WHEN s.status <> 'queued' THEN t.created + interval '1 second' END,
       CASE WHEN s.status IN ('complete', 'failed')
            THEN t.created + interval '1 second' + make_interval(secs => (g %% 997) / 10.0) END,
       s.status,
       CASE WHEN s.status <> 'queued' THEN 'worker-' || (g %% 4) || ':' || (1000 + g %% 8) END,
       CASE WHEN s.status = 'failed' THEN jsonb_build_object(
                'error:class', 'RuntimeError',
                'error:message', 'boom ' || g,
                'error:backtrace', 'Traceback (most recent call last):' || E'\\n'
                                   || '  File "app/workers.py", line 12, in perform' || E'\\n'
                                   || 'RuntimeError: boom ' || g,
                'retry:errors', jsonb_build_array(jsonb_build_object(
                    'class', 'TimeoutError', 'message', 'first try timed out',
                    'at', t.created + interval '1 second')))
            ELSE '{}'::jsonb END,
       CASE WHEN s.status = 'queued' THEN 0 WHEN s.status = 'failed' THEN 2 ELSE 1 END
  FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g,
       LATERAL (SELECT now() - make_interval(secs => (%(total)s - g) * 0.5) AS created) AS t,
       LATERAL (SELECT CASE WHEN g %% 100 < 85 THEN 'complete'
                            WHEN g %% 100 < 90 THEN 'failed'
                            WHEN g %% 1000 >= 995 AND g > %(total)s - 200 * %(running)s
                            THEN 'running'
                            ELSE 'queued' END AS status) AS s
"""


def create_database(conninfo: str) -> None:
    """Create the database ``conninfo`` names (connecting to ``postgres`` to do it)."""
    parts = conninfo_to_dict(conninfo)
    name = str(parts.get("dbname") or "postgres")
    admin = make_conninfo("", **{**parts, "dbname": "postgres"})
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))


def migrate_database(conninfo: str) -> None:
    from toro_core import migrate
    from toro_core.app import Toro

    app = Toro(conninfo)
    migrate.apply(conninfo, app.migrations())


def seed(conninfo: str, jobs: int, chunk: int, reset: bool, running: int = 1000) -> float:
    """Insert ``jobs`` jobs; return the seconds it took."""
    started = time.perf_counter()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        if reset:
            conn.execute("TRUNCATE toro_jobs")
        for first in range(1, jobs + 1, chunk):
            last = min(first + chunk - 1, jobs)
            conn.execute(
                SEED_CHUNK, {"first": first, "last": last, "total": jobs, "running": running}
            )
        conn.execute("VACUUM ANALYZE toro_jobs")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="conninfo of the database to fill")
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=200_000, help="jobs per INSERT statement")
    parser.add_argument("--create", action="store_true", help="create the database if missing")
    parser.add_argument("--migrate", action="store_true", help="apply toro's migrations first")
    parser.add_argument("--reset", action="store_true", help="empty toro_jobs first")
    parser.add_argument(
        "--running", type=int, default=1000, help="running jobs, among the newest (default 1000)"
    )
    args = parser.parse_args()
    if args.create:
        create_database(args.database_url)
    if args.migrate:
        migrate_database(args.database_url)
    seconds = seed(args.database_url, args.jobs, args.chunk, args.reset, args.running)
    print(f"seeded {args.jobs:,} jobs in {seconds:.1f}s")


if __name__ == "__main__":
    main()
