"""``toro-core migrate``, ``status`` and ``plugins``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

import anyio

from toro_core import migrate
from toro_core.store import CoreStore

if TYPE_CHECKING:
    from toro_core.app import Toro
    from toro_core.connections import Connections


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    mig = sub.add_parser("migrate", parents=[common], help="create or upgrade the schema")
    mig.add_argument(
        "--sql",
        action="store_true",
        help="print the whole schema as SQL instead of applying it (no database needed)",
    )
    mig.set_defaults(handler=cmd_migrate)

    status = sub.add_parser("status", parents=[common], help="live processes and job counts")
    status.add_argument("--json", action="store_true", help="print JSON for scripts")
    status.set_defaults(handler=cmd_status)

    plugins = sub.add_parser("plugins", parents=[common], help="installed plugins and their hooks")
    plugins.set_defaults(handler=cmd_plugins)


def cmd_migrate(args: argparse.Namespace, app: Toro) -> int:
    migrations = app.migrations()
    if args.sql:
        sys.stdout.write(migrate.render_sql(migrations))
        return 0
    applied = migrate.apply(app.connections, migrations)
    for migration in applied:
        print(f"applied {migration.label}")
    print(f"schema up to date ({len(migrations)} migrations, {len(applied)} applied now)")
    return 0


async def _read_status(
    connections: Connections,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    async with await connections.aconnect() as conn:
        store = CoreStore(connection=conn)
        return await store.processes(), await store.counts()


def cmd_status(args: argparse.Namespace, app: Toro) -> int:
    processes, counts = anyio.run(_read_status, app.connections)
    if args.json:
        print(json.dumps({"processes": processes, "counts": counts}, default=str, indent=2))
        return 0
    print(f"{len(processes)} live process(es)")
    for p in processes:
        print(
            f"  {p['host']}:{p['pid']}  queues={','.join(p['queues'])}  "
            f"busy={len(p['running'])}/{p['concurrency']}  heartbeat {p['heartbeat_age']:.1f}s ago"
        )
    print("jobs by queue and status")
    if not counts:
        print("  (no jobs)")
    for row in counts:
        print(f"  {row['queue']:<20} {row['status']:<12} {row['jobs']:>10,}")
    return 0


def cmd_plugins(args: argparse.Namespace, app: Toro) -> int:
    from toro_core.plugins import describe

    for name, where, hooks in describe(app.plugin_manager):
        print(f"{name:<12} {where}")
        print(f"{'':<12} hooks: {', '.join(hooks) or '(none)'}")
    return 0
