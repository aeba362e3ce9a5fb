"""Time every page and partial of the monitor against a database (seed it first).

    python scripts/seed_jobs.py --database-url "dbname=toro_bench ..." --create --migrate --reset
    python scripts/bench_monitor.py --database-url "dbname=toro_bench ..." --runs 40

Requests go through Litestar's test client in this process, so a figure is the whole server
side: routing, auth, queries, template rendering. Prints p50 and p95 in milliseconds per URL
and exits 1 when any p95 is above ``--budget`` (200 ms).
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--runs", type=int, default=40, help="timed requests per URL")
    parser.add_argument("--budget", type=float, default=200.0, help="p95 limit in ms")
    args = parser.parse_args()

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
