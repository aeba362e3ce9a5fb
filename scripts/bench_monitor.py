"""Time every page and partial of the monitor against a database (seed it first).

    python scripts/seed_jobs.py --database-url "dbname=toro_bench ..." --create --migrate --reset
    python scripts/bench_monitor.py --database-url "dbname=toro_bench ..." --runs 40

Requests go through Litestar's test client in this process, so a figure is the whole server
side: routing, auth, queries, template rendering. Prints p50 and p95 in milliseconds per URL
and exits 1 when any p95 is above ``--budget`` (200 ms).

``--index-cost`` instead measures what the monitor's indexes cost the workers: bulk enqueue and
claim + finish (the kernel's own statements, one connection) on a scratch database
``toro_monitor_idxprobe`` on the same server, with and without the monitor's migrations.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time

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


def index_cost(conninfo: str, jobs: int = 50_000, history: int = 300_000) -> None:
    """Print enqueue and claim+finish rates without and with the monitor's migrations."""
    import json
    import uuid

    import psycopg
    import toro_monitor.plugin

    from toro_core import migrate
    from toro_core.app import Toro
    from toro_core.store import query
    from toro_core.testing import with_database

    scratch = with_database(conninfo, "toro_monitor_idxprobe")

    def once(with_monitor: bool, batch: int) -> tuple[float, float]:
        with psycopg.connect(with_database(conninfo, "postgres"), autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS toro_monitor_idxprobe WITH (FORCE)")
            admin.execute("CREATE DATABASE toro_monitor_idxprobe")
        plugins = [toro_monitor.plugin] if with_monitor else []
        migrate.apply(scratch, Toro(scratch, plugins=plugins, load_entry_points=False).migrations())
        with psycopg.connect(scratch, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO toro_jobs (class_name, status, started_at, finished_at) "
                "SELECT 'x.Y', 'complete', now(), now() FROM generate_series(1, %s)",
                (history,),
            )
            conn.execute("VACUUM ANALYZE toro_jobs")
            args = [json.dumps([i]) for i in range(jobs)]
            started = time.perf_counter()
            for i in range(0, jobs, 1000):
                chunk = args[i : i + 1000]
                conn.execute(
                    query("insert_jobs"),
                    {
                        "queue": "default",
                        "class_name": "x.Y",
                        "status": "queued",
                        "scheduled_at": None,
                        "args": chunk,
                        "names": [None] * len(chunk),
                    },
                )
            enqueue = jobs / (time.perf_counter() - started)
            owner = uuid.uuid4()
            conn.execute(
                query("register_process"),
                {
                    "id": owner,
                    "host": "h",
                    "pid": 1,
                    "queues": ["default"],
                    "concurrency": 10,
                    "meta": "{}",
                },
            )
            done, after = 0, 0
            started = time.perf_counter()
            while done < jobs:
                claimed = conn.execute(
                    query("claim_jobs"),
                    {
                        "queues": ["default"],
                        "after": after,
                        "limit": batch,
                        "owner": owner,
                        "started_by": "h:1",
                    },
                ).fetchall()
                if not claimed:
                    break
                ids = [r[0] for r in claimed]
                after = max(ids)
                n = len(ids)
                conn.execute(
                    query("finish_jobs"),
                    {
                        "ids": ids,
                        "attempts": [r[-1] for r in claimed],
                        "statuses": ["complete"] * n,
                        "durations": [0.001] * n,
                        "scheduled": [None] * n,
                        "patches": ["{}"] * n,
                        "owner": owner,
                    },
                )
                done += n
            cycle = done / (time.perf_counter() - started)
        return enqueue, cycle

    print(f"{jobs:,} jobs over {history:,} finished ones; rates in jobs/s")
    for batch in (10, 100):
        for with_monitor in (False, True, False, True):
            enqueue, cycle = once(with_monitor, batch)
            label = "with monitor" if with_monitor else "core only   "
            print(
                f"claim batch {batch:>3}  {label}  enqueue {enqueue:9,.0f}  "
                f"claim+finish {cycle:8,.0f}",
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
        help="measure what the monitor's indexes cost enqueue and claims instead",
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
