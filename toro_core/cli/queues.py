"""``toro-core queues``: list queues, pause and resume them."""

from __future__ import annotations

import argparse
import json
import socket
from typing import TYPE_CHECKING, Any

from toro_core.cli.options import positive_int
from toro_core.errors import ToroError
from toro_core.store import CoreSyncStore

if TYPE_CHECKING:
    from toro_core.app import Toro

#: Job counts shown as columns, in this order (other statuses are summed into "other").
SHOWN = ("queued", "scheduled", "running", "failed", "complete")


def add_command(sub: Any, common: argparse.ArgumentParser) -> None:
    queues = sub.add_parser("queues", parents=[common], help="list, pause and resume queues")
    actions = queues.add_subparsers(dest="queues_action", metavar="ACTION", required=True)

    listing = actions.add_parser(
        "list", parents=[common], help="queues with their jobs, state and processes"
    )
    listing.add_argument("--json", action="store_true", help="print JSON for scripts")
    listing.set_defaults(handler=cmd_list)

    for name, text, handler in (
        ("pause", "stop every process claiming from a queue", cmd_pause),
        ("resume", "let processes claim from a paused queue again", cmd_resume),
    ):
        action = actions.add_parser(name, parents=[common], help=text)
        action.add_argument("name", help="the queue")
        action.set_defaults(handler=handler)

    limit = actions.add_parser(
        "limit", parents=[common], help="limit how many jobs of a queue run at once"
    )
    limit.add_argument("name", help="the queue")
    how = limit.add_mutually_exclusive_group(required=True)
    how.add_argument(
        "--concurrency", type=positive_int, help="at most this many running, across processes"
    )
    how.add_argument("--clear", action="store_true", help="remove the queue's limit")
    limit.set_defaults(handler=cmd_limit)


def queue_report(store: CoreSyncStore) -> list[dict[str, Any]]:
    """Every queue: its counts per status, paused or not, the processes serving it, and
    ``warning`` when it has queued jobs and no live process serves it."""
    counts: dict[str, dict[str, int]] = {}
    for row in store.counts():
        counts.setdefault(row["queue"], {})[row["status"]] = int(row["jobs"])
    limits = {row["key"]: row for row in store.list_limits()}
    report = []
    for row in store.list_queues():
        jobs = counts.get(row["name"], {})
        limit = limits.get(f"queue:{row['name']}")
        report.append(
            {
                "name": row["name"],
                "paused": row["paused_at"] is not None,
                "paused_at": row["paused_at"],
                "paused_by": row["paused_by"],
                "processes": int(row["processes"]),
                "slots": int(row["slots"]),
                "jobs": jobs,
                "limit": limit["concurrency"] if limit else None,
                "warning": jobs.get("queued", 0) > 0 and not row["processes"],
            }
        )
    return report


def cmd_list(args: argparse.Namespace, app: Toro) -> int:
    with app.connections.connect() as conn:
        report = queue_report(CoreSyncStore(connection=conn))
    if args.json:
        print(json.dumps(report, default=str, indent=2))
        return 0
    if not report:
        print("no queues yet")
        return 0
    header = "".join(f"{s:>10}" for s in (*SHOWN, "other"))
    print(f"  {'queue':<20}{'state':<9}{header}  processes")
    for entry in report:
        jobs = entry["jobs"]
        other = sum(n for s, n in jobs.items() if s not in SHOWN)
        cells = "".join(f"{n:>10,}" for n in (*(jobs.get(s, 0) for s in SHOWN), other))
        mark = "!" if entry["warning"] else " "
        state = "paused" if entry["paused"] else "running"
        limit = f", limit {entry['limit']}" if entry["limit"] else ""
        print(
            f"{mark} {entry['name']:<20}{state:<9}{cells}  "
            f"{entry['processes']} ({entry['slots']} slots{limit})"
        )
    if any(entry["warning"] for entry in report):
        print("! queued jobs and no live process serving the queue: start one with -q NAME")
    return 0


def _name(value: str) -> str:
    if not value.strip():
        raise ToroError("a queue name cannot be empty")
    return value


def cmd_pause(args: argparse.Namespace, app: Toro) -> int:
    with app.connections.connect() as conn:
        changed = CoreSyncStore(connection=conn).pause_queue(
            _name(args.name), f"toro-core on {socket.gethostname()}"
        )
    print(f"queue {args.name}: {'paused' if changed else 'was paused already'}")
    return 0


def cmd_resume(args: argparse.Namespace, app: Toro) -> int:
    with app.connections.connect() as conn:
        changed = CoreSyncStore(connection=conn).resume_queue(_name(args.name))
    print(f"queue {args.name}: {'resumed' if changed else 'was not paused'}")
    return 0


def cmd_limit(args: argparse.Namespace, app: Toro) -> int:
    concurrency = None if args.clear else args.concurrency
    with app.connections.connect() as conn:
        CoreSyncStore(connection=conn).set_queue_limit(_name(args.name), concurrency)
    if concurrency is None:
        print(f"queue {args.name}: no concurrency limit")
    else:
        print(f"queue {args.name}: at most {concurrency} job(s) running at once")
    return 0
