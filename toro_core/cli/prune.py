"""``toro-core prune``: delete finished jobs older than their retention, once (cron, deploys).

The same pruner as the worker processes' (:mod:`toro_core.runtime.pruner`): bounded batches
with pauses, one batch at a time across every process (it waits its turn when a worker is
pruning). Prints what it deleted per final status; ``--dry-run`` counts instead and changes
nothing.
"""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING, Any

import anyio

from toro_core.cli.options import add_retention_options, retention_of
from toro_core.retention import format_duration
from toro_core.runtime.pruner import Pruner
from toro_core.runtime.retry import TRANSIENT, Retry
from toro_core.store import CoreStore, aconnect

if TYPE_CHECKING:
    from toro_core.app import Toro

log = logging.getLogger("toro.prune")
#: Failed batches in a row after which the command gives up (and says why).
TRIES = 10


def add_command(sub: Any, common: argparse.ArgumentParser) -> None:
    prune = sub.add_parser(
        "prune",
        parents=[common],
        help="delete finished jobs older than their retention",
        description="Delete complete, failed and cancelled jobs (and plugins' final statuses) "
        "that finished longer ago than their retention. Queued, scheduled, running and "
        "blocked jobs are never deleted.",
    )
    add_retention_options(prune)
    prune.add_argument(
        "--dry-run", action="store_true", help="count what would be deleted; change nothing"
    )
    prune.set_defaults(handler=cmd_prune)


def cmd_prune(args: argparse.Namespace, app: Toro) -> int:
    retention = retention_of(args)
    finals = [status for status in app.statuses if status.final]
    horizons = retention.horizons(finals)
    counts = anyio.run(_prune, app.database_url, horizons, args.dry_run)
    verb = "would be deleted" if args.dry_run else "deleted"
    for status in finals:
        keep = retention.keep(status)
        if keep is None:
            print(f"{status.name:<12} {'kept forever':>14}")
        else:
            print(
                f"{status.name:<12} {counts[status.name]:>14,} {verb} "
                f"(finished more than {format_duration(keep)} ago)"
            )
    total = sum(counts.values())
    print(f"{'total':<12} {total:>14,} {verb}")
    return 0


async def _prune(url: str, horizons: dict[str, float], dry_run: bool) -> dict[str, int]:
    """Count, or prune until a pass completes; a statement cut off by its timeout or a lost
    connection is tried again (with smaller batches), up to :data:`TRIES` times in a row."""
    async with await aconnect(url) as conn:
        pruner = Pruner(CoreStore(connection=conn), horizons, wait_for_lock=True)
        if dry_run:
            return await pruner.count()
        retry = Retry("pruning", log)
        while True:
            try:
                await pruner.prune()
            except TRANSIENT as exc:
                if retry.failures + 1 >= TRIES:
                    raise
                await retry.pause(exc)
                continue
            return pruner.deleted
