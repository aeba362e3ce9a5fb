"""``toro-core start``: run a worker process."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from toro_core.cli.options import (
    env,
    env_list,
    import_modules,
    positive_int,
    positive_seconds,
    seconds_or_zero,
)
from toro_core.settings import WorkerSettings

if TYPE_CHECKING:
    from toro_core.app import Toro

#: The numeric options of ``start``: flags, type, TORO_* variable, default, help.
NUMBERS: tuple[tuple[tuple[str, ...], Any, str, str, str], ...] = (
    (("-c", "--concurrency"), positive_int, "CONCURRENCY", "10", "jobs run at once"),
    (
        ("--shutdown-timeout",),
        seconds_or_zero,
        "SHUTDOWN_TIMEOUT",
        "25",
        "seconds running jobs get on SIGTERM",
    ),
    (
        ("--heartbeat-interval",),
        positive_seconds,
        "HEARTBEAT_INTERVAL",
        "5",
        "seconds between heartbeats",
    ),
    (
        ("--dead-after",),
        positive_seconds,
        "DEAD_AFTER",
        "30",
        "seconds without heartbeat before a process is dead",
    ),
    (
        ("--poll-interval",),
        positive_seconds,
        "POLL_INTERVAL",
        "1",
        "seconds between polls without notification",
    ),
    (("--batch-size",), positive_int, "BATCH_SIZE", "100", "most jobs claimed per statement"),
)


def add_command(sub: Any, common: argparse.ArgumentParser) -> None:
    start = sub.add_parser("start", parents=[common], help="run a worker process")
    start.add_argument(
        "-q",
        "--queue",
        dest="queues",
        action="append",
        default=None,
        help="queue to serve, repeatable ($TORO_QUEUES, comma-separated; default 'default')",
    )
    start.add_argument(
        "-r",
        "--require",
        dest="modules",
        action="append",
        default=None,
        help="module that defines workers, repeatable ($TORO_REQUIRE, comma-separated)",
    )
    for flags, kind, variable, default, text in NUMBERS:
        # A string default goes through ``type`` like a typed value, so a bad TORO_* value is
        # reported by argparse as clearly as a bad flag.
        start.add_argument(
            *flags,
            type=kind,
            default=env(variable, default),
            help=f"{text} ($TORO_{variable}, {default})",
        )
    start.add_argument(
        "--synchronous-commit",
        action="store_true",
        default=env("SYNCHRONOUS_COMMIT", "off").lower() in ("on", "1", "true"),
        help="wait for the WAL flush on every claim and outcome ($TORO_SYNCHRONOUS_COMMIT, off)",
    )
    start.set_defaults(handler=run)


def run(args: argparse.Namespace, app: Toro) -> int:
    from toro_core.runtime import run_worker

    import_modules(args.modules if args.modules is not None else env_list("REQUIRE"))
    queues = args.queues or env_list("QUEUES", ["default"])
    settings = WorkerSettings(
        queues=tuple(dict.fromkeys(queues)),
        concurrency=args.concurrency,
        batch_size=args.batch_size,
        poll_interval=args.poll_interval,
        heartbeat_interval=args.heartbeat_interval,
        dead_after=args.dead_after,
        shutdown_timeout=args.shutdown_timeout,
        synchronous_commit=args.synchronous_commit,
    )
    return run_worker(app, settings)
