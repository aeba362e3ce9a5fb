"""Time every page and partial of the monitor against a database (seed it first).

    python scripts/seed_jobs.py --database-url "dbname=toro_bench ..." --create --migrate --reset
    python scripts/bench_monitor.py --database-url "dbname=toro_bench ..." --runs 40

Requests go through Litestar's test client in this process, so a figure is the whole server
side: routing, auth, queries, template rendering. Prints p50 and p95 in milliseconds per URL
and exits 1 when any p95 is above ``--budget`` (200 ms).

``--index-cost`` instead prints what enqueue, claim and finish write per job (WAL records, WAL
bytes, buffers: counts of work that the machine's load does not move), with core's schema alone
and with every installed plugin's, on a scratch database ``toro_monitor_idxprobe``.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from typing import Any

HX = {"HX-Request": "true"}


def urls(client) -> list[tuple[str, str, dict[str, str]]]:  # type: ignore[no-untyped-def]
    """``(label, url, headers)`` of everything to time; ids and cursors read from the pages."""
    first = client.get("/jobs").text
    next_link = re.search(r'class="next" href="([^"]+)"', first)
    failed = client.get("/jobs?status=failed", headers=HX).text
    failed_id = re.search(r'id="job-(\d+)"', failed)
    classes = re.findall(r'<option value="([^"]+)">', first)
    worker = next((c for c in classes if "." in c), "app.workers.Notify")
    pages: list[tuple[str, str, dict[str, str]]] = [
        ("jobs page", "/jobs", {}),
        ("jobs partial", "/jobs", HX),
    ]
    pages += [
        (f"jobs sort {key}", f"/jobs?sort={key}", HX)
        for key in ("queue", "class", "status", "name", "started", "duration", "created")
    ]
    pages += [
        (f"jobs sort {key} asc", f"/jobs?sort={key}&dir=asc", HX)
        for key in ("queue", "started", "duration")
    ]
    pages += [
        ("jobs status=failed", "/jobs?status=failed", HX),
        ("jobs status=running", "/jobs?status=running", HX),
        ("jobs queue=mailers", "/jobs?queue=mailers", HX),
        ("jobs class", f"/jobs?class={worker}", HX),
        ("jobs name search", "/jobs?q=1234", HX),
        ("jobs queue+class+status", f"/jobs?queue=mailers&class={worker}&status=failed", HX),
        ("jobs queue+status sort duration", "/jobs?queue=reports&status=failed&sort=duration", HX),
        ("jobs no match", "/jobs?queue=nosuchqueue&status=failed", HX),
    ]
    if next_link:
        pages.append(("jobs page 2", next_link.group(1).replace("&amp;", "&"), HX))
    pages += [
        ("queues page", "/queues", {}),
        ("queues partial", "/queues", HX),
        ("chart page", "/chart", {}),
        ("chart partial", "/chart", HX),
        ("processes page", "/processes", {}),
        ("processes partial", "/processes", HX),
    ]
    if failed_id:
        pages += [
            ("job detail page", f"/jobs/{failed_id.group(1)}", {}),
            ("job detail modal", f"/jobs/{failed_id.group(1)}", HX),
        ]
    return pages


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def index_cost(conninfo: str, jobs: int = 5_000, history: int = 20_000) -> None:
    """Print what enqueue, claim and finish cost per job in the database with core's schema
    alone and with every installed plugin's (the monitor's indexes among them): WAL records,
    WAL bytes and buffers touched, from EXPLAIN (ANALYZE, BUFFERS, WAL) of the kernel's own
    statements on one connection, claims in batches of 10. Counts of work, not rates: they do
    not move with the machine's load. On a scratch database ``toro_monitor_idxprobe``."""
    import json
    import uuid

    import psycopg

    from toro_core import migrate
    from toro_core.app import Toro
    from toro_core.store import query
    from toro_core.store.claims import plain_claim
    from toro_core.store.inserts import bulk_statement
    from toro_core.testing import with_database

    scratch = with_database(conninfo, "toro_monitor_idxprobe")
    keys = ("WAL Records", "WAL Bytes", "Shared Hit Blocks", "Shared Read Blocks")

    def explain(
        conn: psycopg.Connection[Any], statement: str, params: Any, totals: dict[str, float]
    ) -> None:
        text = "\n".join(
            line for line in statement.splitlines() if not line.lstrip().startswith("--")
        )
        plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS, WAL, FORMAT JSON) " + text, params)
        row = plan.fetchone()
        assert row is not None
        top = row[0][0]["Plan"]
        for key in keys:
            totals[key] = totals.get(key, 0) + top.get(key, 0)

    def once(every_plugin: bool) -> dict[str, dict[str, float]]:
        with psycopg.connect(with_database(conninfo, "postgres"), autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS toro_monitor_idxprobe WITH (FORCE)")
            admin.execute("CREATE DATABASE toro_monitor_idxprobe")
        migrate.apply(scratch, Toro(scratch, load_entry_points=every_plugin).migrations())
        totals: dict[str, dict[str, float]] = {"enqueue": {}, "claim": {}, "finish": {}}
        with psycopg.connect(scratch, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO toro_jobs (class_name, status, started_at, finished_at, attempt) "
                "SELECT 'x.Y', 'complete', now(), now(), 1 FROM generate_series(1, %s)",
                (history,),
            )
            for first in range(0, jobs, 1000):
                n = min(1000, jobs - first)
                params = {
                    "queue": "default",
                    "class_name": "x.Y",
                    "status": "queued",
                    "scheduled_at": None,
                    "priority": 0,
                    "headers": None,
                    "concurrency": None,
                    "rate": None,
                    "per_seconds": None,
                    "args": [json.dumps([i]) for i in range(n)],
                    "kwargs": ["{}"] * n,
                    "names": [None] * n,
                    "unique_keys": [None] * n,
                    "limit_keys": [None] * n,
                }
                explain(conn, query("insert_jobs"), bulk_statement(params), totals["enqueue"])
            conn.execute("VACUUM ANALYZE toro_jobs")
            owner = uuid.uuid4()
            process = {"id": owner, "host": "h", "pid": 1, "queues": ["default"]}
            conn.execute(query("register_process"), {**process, "concurrency": 10, "meta": "{}"})
            done, after = 0, 0
            while done < jobs:
                claim = {"queue": "default", "queues": ["default"], "after_rank": 0}
                claim |= {"after": after, "limit": 10, "owner": owner, "started_by": "h:1"}
                claim |= {"relaxed": False}
                explain(conn, plain_claim(10), claim, totals["claim"])
                claimed = conn.execute(
                    "SELECT id, attempt FROM toro_jobs WHERE locked_by = %s AND status = 'running'",
                    (owner,),
                ).fetchall()
                if not claimed:
                    break
                ids = [row[0] for row in claimed]
                after = max(ids)
                finish = {"owner": owner, "status": "complete", "ids": ids, "relaxed": False}
                finish |= {"attempts": [row[1] for row in claimed], "durations": [0.001] * len(ids)}
                explain(conn, query("finish_jobs_plain"), finish, totals["finish"])
                done += len(ids)
        return {step: {k: v / jobs for k, v in t.items()} for step, t in totals.items()}

    print(f"per job: {jobs:,} jobs over {history:,} finished ones, claims of 10")
    print(f"{'schema':<14}{'step':<9}{'WAL records':>12}{'WAL bytes':>11}{'buffers':>9}")
    for every_plugin in (False, True):
        label = "every plugin" if every_plugin else "core only"
        for step, cost in once(every_plugin).items():
            buffers = cost["Shared Hit Blocks"] + cost["Shared Read Blocks"]
            print(
                f"{label:<14}{step:<9}{cost['WAL Records']:>12.1f}{cost['WAL Bytes']:>11.0f}"
                f"{buffers:>9.1f}",
                flush=True,
            )
    with psycopg.connect(with_database(conninfo, "postgres"), autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS toro_monitor_idxprobe WITH (FORCE)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--runs", type=int, default=40, help="timed requests per URL")
    parser.add_argument("--budget", type=float, default=200.0, help="p95 limit in ms")
    parser.add_argument(
        "--index-cost",
        action="store_true",
        help="print what the plugins' indexes cost enqueue, claim and finish instead",
    )
    args = parser.parse_args()
    if args.index_cost:
        index_cost(args.database_url)
        return 0

    import logging

    from litestar.testing import TestClient
    from toro_monitor import MonitorOptions, create_app

    from toro_core.app import Toro

    logging.getLogger("httpx").setLevel(logging.WARNING)
    toro = Toro(args.database_url)
    app = create_app(toro, MonitorOptions(basic_auth=None))
    over = 0
    with TestClient(app) as client:
        rows = client.get("/jobs").text
        total = re.search(r"<strong>([^<]+)</strong> job", rows)
        print(f"jobs in table: {total.group(1) if total else '?'}; {args.runs} runs per URL")
        print(f"{'page':<34} {'p50 ms':>8} {'p95 ms':>8}  status")
        for label, url, headers in urls(client):
            client.get(url, headers=headers)  # warm-up
            times = []
            status = 0
            for _ in range(args.runs):
                started = time.perf_counter()
                response = client.get(url, headers=headers)
                times.append((time.perf_counter() - started) * 1000)
                status = response.status_code
            p50, p95 = statistics.median(times), percentile(times, 0.95)
            flag = "" if p95 <= args.budget else "  OVER BUDGET"
            over += bool(flag)
            print(f"{label:<34} {p50:8.1f} {p95:8.1f}  {status}{flag}")
    toro.close()
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
