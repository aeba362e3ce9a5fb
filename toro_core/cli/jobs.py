"""``toro-core jobs``: list, show, retry and cancel jobs, by id or by filters."""

from __future__ import annotations

import argparse
import dataclasses
import json
import socket
import sys
from typing import TYPE_CHECKING, Any

from toro_core.cli.options import positive_int
from toro_core.errors import ToroError
from toro_core.printable import printable
from toro_core.store import CoreSyncStore

if TYPE_CHECKING:
    from toro_core.app import Toro
    from toro_core.job import Job

#: The most jobs one command changes or lists (change more by running it again).
MAX_LIMIT = 100_000
#: Statuses a job can be cancelled from.
CANCELLABLE = ("queued", "scheduled", "blocked", "running")


def add_command(sub: Any, common: argparse.ArgumentParser) -> None:
    jobs = sub.add_parser("jobs", parents=[common], help="list, show, retry or cancel jobs")
    actions = jobs.add_subparsers(dest="jobs_action", metavar="ACTION", required=True)

    def filters(parser: argparse.ArgumentParser, *, status: bool, limit: int) -> None:
        if status:
            parser.add_argument("--status", help="only jobs with this status")
        parser.add_argument("--queue", help="only jobs of this queue")
        parser.add_argument("--worker", help="only jobs of this worker class (module.Class)")
        parser.add_argument(
            "--limit", type=positive_int, default=limit, help=f"at most this many (default {limit})"
        )

    listing = actions.add_parser("list", parents=[common], help="the newest jobs, filtered")
    filters(listing, status=True, limit=50)
    listing.add_argument("--json", action="store_true", help="print JSON for scripts")
    listing.set_defaults(handler=cmd_list)

    show = actions.add_parser("show", parents=[common], help="one job, whole")
    show.add_argument("id", type=positive_int, help="the job's id")
    show.add_argument("--json", action="store_true", help="print JSON for scripts")
    show.set_defaults(handler=cmd_show)

    retry = actions.add_parser(
        "retry", parents=[common], help="queue failed (or cancelled) jobs again"
    )
    retry.add_argument("ids", type=positive_int, nargs="*", metavar="ID", help="job ids")
    retry.add_argument(
        "--failed", action="store_true", help="every failed job matching the filters"
    )
    filters(retry, status=False, limit=10_000)
    retry.set_defaults(handler=cmd_retry)

    cancel = actions.add_parser("cancel", parents=[common], help="cancel jobs")
    cancel.add_argument("ids", type=positive_int, nargs="*", metavar="ID", help="job ids")
    filters(cancel, status=True, limit=10_000)
    cancel.set_defaults(handler=cmd_cancel)


def _by() -> str:
    return f"toro-core on {socket.gethostname()}"


def _status(app: Toro, status: str | None, allowed: tuple[str, ...] | None = None) -> str | None:
    """``status`` if it is a known status (and an allowed one), else a clear error."""
    if status is None:
        return None
    app.statuses[status]  # UnknownStatusError names the known ones
    if allowed is not None and status not in allowed:
        raise ToroError(f"--status {status}: only {', '.join(allowed)} jobs can be cancelled")
    return status


def _limit(value: int) -> int:
    if value > MAX_LIMIT:
        raise ToroError(f"--limit {value}: at most {MAX_LIMIT:,} jobs per command")
    return value


def job_dict(job: Job) -> dict[str, Any]:
    """A job as JSON-ready data (``--json``)."""
    data = dataclasses.asdict(job)
    data.pop("duplicate", None)
    if data.get("undecodable") is None:
        data.pop("undecodable", None)  # shown only for a row whose JSON cannot be read
    return data


def cmd_list(args: argparse.Namespace, app: Toro) -> int:
    status = _status(app, args.status)
    with app.connections.connect() as conn:
        jobs = CoreSyncStore(connection=conn).list_jobs(
            status=status, queue=args.queue, class_name=args.worker, limit=_limit(args.limit)
        )
    if args.json:
        print(json.dumps([job_dict(job) for job in jobs], default=str, indent=2))
        return 0
    if not jobs:
        print("no jobs match")
        return 0
    print(f"{'id':>10}  {'status':<10} {'queue':<16} {'priority':>8}  worker / name")
    for job in jobs:
        label = printable(job.class_name, 200) + (
            f"  ({printable(job.name, 200)})" if job.name else ""
        )
        status, queue = printable(job.status, 40), printable(job.queue, 100)
        print(f"{job.id:>10}  {status:<10} {queue:<16} {job.priority:>8}  {label}")
    return 0


def cmd_show(args: argparse.Namespace, app: Toro) -> int:
    with app.connections.connect() as conn:
        job = CoreSyncStore(connection=conn).get_job(args.id)
    if job is None:
        print(f"toro-core: no job {args.id}", file=sys.stderr)
        return 1
    data = job_dict(job)
    if args.json:
        print(json.dumps(data, default=str, indent=2))
        return 0
    width = max(len(key) for key in data)
    for key, value in data.items():
        shown = json.dumps(value, default=str) if isinstance(value, (dict, list)) else value
        print(f"{key:<{width}}  {printable(shown, 100_000)}")  # no control characters
    return 0


def _explicit_or_filters(args: argparse.Namespace, uses_filters: bool) -> None:
    if args.ids and uses_filters:
        raise ToroError("give job ids or filters, not both")


def cmd_retry(args: argparse.Namespace, app: Toro) -> int:
    uses_filters = args.failed or args.queue is not None or args.worker is not None
    _explicit_or_filters(args, uses_filters)
    if not args.ids and not args.failed:
        raise ToroError("give job ids, or --failed (with --queue/--worker to narrow it)")
    with app.connections.connect() as conn:
        store = CoreSyncStore(connection=conn)
        ids = args.ids or store.find_job_ids(
            statuses=["failed"],
            queue=args.queue,
            class_name=args.worker,
            limit=_limit(args.limit),
        )
        retried = set(store.retry_jobs(ids, _by()))
        left = [i for i in ids if i not in retried]
        found = {job.id: job.status for job in store.get_jobs(left)} if left else {}
    for job_id in ids if args.ids else ():
        if job_id in retried:
            print(f"job {job_id}: queued again")
        elif job_id in found:
            print(f"job {job_id}: left alone (it is {found[job_id]}, or its unique key is taken)")
        else:
            print(f"job {job_id}: no such job")
    print(f"{len(retried)} job(s) queued again")
    return 0


def cmd_cancel(args: argparse.Namespace, app: Toro) -> int:
    status = _status(app, args.status, CANCELLABLE)
    uses_filters = status is not None or args.queue is not None or args.worker is not None
    _explicit_or_filters(args, uses_filters)
    if not args.ids and not uses_filters:
        raise ToroError("give job ids, or filters (--status, --queue, --worker) to choose jobs")
    with app.connections.connect() as conn:
        store = CoreSyncStore(connection=conn)
        ids = args.ids or store.find_job_ids(
            statuses=[status] if status else list(CANCELLABLE),
            queue=args.queue,
            class_name=args.worker,
            limit=_limit(args.limit),
        )
        outcomes = store.cancel_jobs(ids, _by()) if ids else {}
    for job_id in ids if args.ids else ():
        outcome = outcomes.get(job_id)
        if outcome == "cancelled":
            print(f"job {job_id}: cancelled")
        elif outcome == "requested":
            print(f"job {job_id}: running; its process stops it (it ends cancelled)")
        elif outcome is None:
            print(f"job {job_id}: no such job")
        else:
            print(f"job {job_id}: left alone (it is {outcome})")
    done = sum(1 for o in outcomes.values() if o == "cancelled")
    asked = sum(1 for o in outcomes.values() if o == "requested")
    print(f"{done} job(s) cancelled, {asked} running job(s) asked to stop")
    return 0
