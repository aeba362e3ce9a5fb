"""``toro-core schedules``: periodic schedules with their next runs, and upcoming scheduled jobs.

Schedules come from two places, merged by name: the worker modules named with ``-r`` (or
``$TORO_REQUIRE``), read in this process, and the ``toro_schedules`` table, where running
worker processes record theirs. So the command works without the application's code, and
with ``-r`` it shows schedules before any worker has run them.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from toro_core import ConfigurationError, DatabaseUnavailable, SchemaMissing, Toro
from toro_core.plugin import SyncStore, common_options, env_list, import_modules, utcnow
from toro_scheduler.schedules import Schedule, find_schedules
from toro_scheduler.sql import query
from toro_scheduler.triggers import Trigger, next_ticks, trigger_from


def add_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``schedules`` to ``toro-core``."""
    parser = subparsers.add_parser(
        "schedules",
        parents=[common_options()],
        help="periodic schedules, their next runs, and upcoming scheduled jobs",
    )
    parser.add_argument(
        "-r",
        "--require",
        dest="modules",
        action="append",
        default=None,
        help="module that defines workers, repeatable ($TORO_REQUIRE)",
    )
    parser.add_argument(
        "-n",
        "--next",
        dest="next_runs",
        type=int,
        default=3,
        help="next runs to show per schedule (default 3)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=10,
        help="upcoming scheduled jobs to show (default 10; 0 for none)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, app: Toro) -> int:
    import_modules(args.modules if args.modules is not None else env_list("REQUIRE"))
    local, errors = find_schedules(app)
    stored, upcoming, problem = _read_database(app, args.jobs)
    if problem and not local:
        raise DatabaseUnavailable(problem)
    report = _report(local, stored, upcoming, args.next_runs)
    report["errors"] = errors
    if problem:
        report["database"] = problem
    if args.json:
        print(json.dumps(report, default=str, indent=2))
    else:
        _print(report)
    return 1 if errors else 0


def _read_database(
    app: Toro, limit: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str | None]:
    """Stored schedules and upcoming jobs; or a reason the database could not be read."""
    try:
        with app.connections.connect() as conn:
            store = SyncStore(connection=conn)
            stored = store.fetch_all(query("list_schedules"))
            upcoming = []
            if limit > 0:
                upcoming = store.fetch_all(query("upcoming_jobs"), {"limit": limit})
    except (ConfigurationError, DatabaseUnavailable) as exc:
        return [], [], str(exc)
    except SchemaMissing:
        return [], [], "the scheduler's tables do not exist: run `toro-core migrate`"
    return stored, upcoming, None


def _report(
    local: list[Schedule],
    stored: list[dict[str, Any]],
    upcoming: list[dict[str, Any]],
    next_runs: int,
) -> dict[str, Any]:
    now = utcnow()
    by_name: dict[str, dict[str, Any]] = {row["name"]: dict(row) for row in stored}
    entries = []
    for name in sorted({*by_name, *(s.name for s in local)}):
        row = by_name.get(name, {})
        schedule = next((s for s in local if s.name == name), None)
        entry: dict[str, Any] = {
            "name": name,
            "loaded_here": schedule is not None,
            "last_tick": row.get("last_tick"),
            "last_job_id": row.get("last_job_id"),
            "seen_at": row.get("seen_at"),
            "seen_by": row.get("seen_by"),
        }
        trigger: Trigger | None
        if schedule is not None:
            trigger = schedule.trigger
            entry.update(queue=schedule.queue, catch_up=schedule.catch_up, args=list(schedule.args))
        else:
            entry.update(queue=row["queue"], catch_up=row["catch_up"], args=row["args"])
            try:
                trigger = trigger_from(row["kind"], row["expression"], row["timezone"])
            except ValueError as exc:
                trigger, entry["error"] = None, str(exc)
        if trigger is not None:
            entry.update(
                kind=trigger.kind,
                expression=trigger.expression(),
                description=trigger.describe(),
                next_runs=next_ticks(trigger, now, next_runs),
            )
        entries.append(entry)
    return {"now": now, "schedules": entries, "scheduled_jobs": [dict(row) for row in upcoming]}


def _print(report: dict[str, Any]) -> None:
    if report.get("database"):
        print(f"note: {report['database']}; showing the loaded modules only", file=sys.stderr)
    for error in report["errors"]:
        print(f"error: {error}", file=sys.stderr)
    schedules = report["schedules"]
    print(f"{len(schedules)} periodic schedule(s)")
    for entry in schedules:
        print(f"  {entry['name']}")
        print(
            f"    {entry.get('description', entry.get('error', '?'))}, queue "
            f"{entry['queue']}, catch-up {entry['catch_up']:g}s"
        )
        if entry["last_tick"] is not None:
            job = f" (job #{entry['last_job_id']})" if entry["last_job_id"] else ""
            print(f"    last tick {_when(entry['last_tick'])}{job}")
        if entry["seen_at"] is not None:
            print(f"    last seen by worker {entry['seen_by']} at {_when(entry['seen_at'])}")
        elif not entry["loaded_here"]:
            print("    not seen by any worker")
        for run_at in entry.get("next_runs", []):
            print(f"    next {_when(run_at)}")
    jobs = report["scheduled_jobs"]
    print(f"{len(jobs)} upcoming scheduled job(s)" + (" (first ones)" if jobs else ""))
    for job in jobs:
        label = job["name"] or job["class_name"]
        print(
            f"  #{job['id']:<8} {_when(job['scheduled_at'])}  in {job['due_in']:.0f}s  "
            f"queue {job['queue']}  {label}"
        )


def _when(moment: datetime) -> str:
    return moment.astimezone().isoformat(sep=" ", timespec="seconds")
