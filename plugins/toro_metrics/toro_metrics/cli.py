"""``toro-core metrics``: the queue metrics once, in the Prometheus text format (or JSON).

The same numbers as the monitor's ``/metrics`` (:mod:`toro_metrics.queues`), for a cron job, a
node exporter's textfile collector (``toro-core metrics > /var/lib/node_exporter/toro.prom``)
or a look from a terminal.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

import anyio

from toro_core.plugin import common_options
from toro_metrics.queues import QueueSnapshot, render, snapshot

if TYPE_CHECKING:
    from toro_core import Toro


def add_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``metrics`` to ``toro-core``."""
    parser = subparsers.add_parser(
        "metrics",
        parents=[common_options()],
        help="queue metrics from the table, once, in the Prometheus text format",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead")
    parser.set_defaults(handler=run)


async def read(app: Toro) -> QueueSnapshot:
    conn = await app.connections.aconnect()
    async with conn:
        return await snapshot(conn)


def as_json(snap: QueueSnapshot) -> str:
    return json.dumps(
        {
            "jobs": [
                {"queue": queue, "status": status, "jobs": jobs}
                for (queue, status), jobs in sorted(snap.counts.items())
            ],
            "exact": snap.exact,
            "oldest_job_age_seconds": snap.oldest_age,
            "processes": snap.processes,
            "slots": snap.slots,
            "busy": snap.busy,
        },
        indent=2,
    )


def run(args: argparse.Namespace, app: Toro) -> int:
    snap = anyio.run(read, app)
    print(as_json(snap) if args.json else render(snap), end="" if not args.json else "\n")
    return 0
