"""The ``toro-core`` command: start, migrate, status, plugins, and plugin subcommands.

Every option of ``start`` can also come from a ``TORO_*`` environment variable (named in
``--help``); the command line wins. Errors a user can fix (no database, unreachable server,
missing schema, a bad worker module) print one line and exit 1, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from toro_core import __version__, migrate
from toro_core.app import Toro
from toro_core.errors import DatabaseUnavailable, ToroError
from toro_core.settings import WorkerSettings, describe_conninfo

Handler = Callable[[argparse.Namespace, Toro], int]


def _env(name: str, default: Any = None) -> Any:
    return os.environ.get(f"TORO_{name}", default)


def env_list(name: str, default: Sequence[str] = ()) -> list[str]:
    """The comma-separated values of ``$TORO_<name>`` (for plugin subcommands too)."""
    value = _env(name)
    return [v.strip() for v in value.split(",") if v.strip()] if value else list(default)


def common_options() -> argparse.ArgumentParser:
    """The options every subcommand has, before or after the subcommand's name.

    Defaults are suppressed here so that a value given before the subcommand is not reset by
    the subcommand's copy of the option; :func:`main` fills them in after parsing.
    """
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument(
        "--database-url",
        default=argparse.SUPPRESS,
        help="PostgreSQL URL or conninfo (default: $TORO_DATABASE_URL)",
    )
    parser.add_argument(
        "--log-level",
        default=argparse.SUPPRESS,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        type=str.upper,
        help="logging level of the 'toro' logger ($TORO_LOG_LEVEL, default INFO)",
    )
    return parser


#: The numeric options of ``start``: flags, type, TORO_* variable, default, help.
START_NUMBERS: tuple[tuple[tuple[str, ...], type, str, str, str], ...] = (
    (("-c", "--concurrency"), int, "CONCURRENCY", "10", "jobs run at once"),
    (
        ("--shutdown-timeout",),
        float,
        "SHUTDOWN_TIMEOUT",
        "25",
        "seconds running jobs get on SIGTERM",
    ),
    (("--heartbeat-interval",), float, "HEARTBEAT_INTERVAL", "5", "seconds between heartbeats"),
    (
        ("--dead-after",),
        float,
        "DEAD_AFTER",
        "30",
        "seconds without heartbeat before a process is dead",
    ),
    (
        ("--poll-interval",),
        float,
        "POLL_INTERVAL",
        "1",
        "seconds between polls without notification",
    ),
    (("--batch-size",), int, "BATCH_SIZE", "100", "most jobs claimed per statement"),
)


def build_parser(app_factory: Callable[[], Toro] | None = None) -> argparse.ArgumentParser:
    common = common_options()
    parser = argparse.ArgumentParser(
        prog="toro-core", description="Background jobs on PostgreSQL.", parents=[common]
    )
    parser.add_argument("--version", action="version", version=f"toro-core {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

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
    for flags, kind, env, default, text in START_NUMBERS:
        # A string default goes through ``type`` like a typed value, so a bad TORO_* value is
        # reported by argparse as clearly as a bad flag.
        start.add_argument(
            *flags, type=kind, default=_env(env, default), help=f"{text} ($TORO_{env}, {default})"
        )
    start.add_argument(
        "--synchronous-commit",
        action="store_true",
        default=_env("SYNCHRONOUS_COMMIT", "off").lower() in ("on", "1", "true"),
        help="wait for the WAL flush on every claim and outcome ($TORO_SYNCHRONOUS_COMMIT, off)",
    )
    start.set_defaults(handler=cmd_start)

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

    from toro_core import demo

    demo.add_parser(sub, common)

    app = app_factory() if app_factory else None
    if app is not None:
        app.pm.hook.cli_commands(subparsers=sub)
    return parser


def cmd_start(args: argparse.Namespace, app: Toro) -> int:
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


def import_modules(modules: Sequence[str]) -> None:
    """Import the modules that define workers (``-r``); the current directory is importable."""
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise ToroError(f"cannot import worker module {name!r}: {exc}") from exc


def cmd_migrate(args: argparse.Namespace, app: Toro) -> int:
    migrations = app.migrations()
    if args.sql:
        sys.stdout.write(migrate.render_sql(migrations))
        return 0
    url = app.database_url
    try:
        applied = migrate.apply(url, migrations)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(_unreachable(url, exc)) from exc
    for migration in applied:
        print(f"applied {migration.label}")
    print(f"schema up to date ({len(migrations)} migrations, {len(applied)} applied now)")
    return 0


def cmd_status(args: argparse.Namespace, app: Toro) -> int:
    from psycopg.rows import dict_row

    from toro_core.sql import query

    url = app.database_url
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10, row_factory=dict_row)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(_unreachable(url, exc)) from exc
    with conn:
        processes = conn.execute(query("list_processes")).fetchall()
        counts = conn.execute(query("count_by_queue_status")).fetchall()
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

    for name, where, hooks in describe(app.pm):
        print(f"{name:<12} {where}")
        print(f"{'':<12} hooks: {', '.join(hooks) or '(none)'}")
    return 0


def _unreachable(url: str, exc: BaseException) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"cannot connect to PostgreSQL at {describe_conninfo(url)}: {first}"


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    logging.getLogger("toro").setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``toro-core``; returns (and exits with) the exit code."""
    holder: dict[str, Toro] = {}

    def factory() -> Toro:
        holder["app"] = Toro()
        return holder["app"]

    try:
        parser = build_parser(factory)
        args = parser.parse_args(argv)
        args.database_url = getattr(args, "database_url", None)
        args.log_level = getattr(args, "log_level", None) or str(_env("LOG_LEVEL", "INFO")).upper()
        configure_logging(args.log_level)
        handler: Handler | None = getattr(args, "handler", None)
        if handler is None:
            parser.print_help()
            return 2
        app = holder["app"]
        if args.database_url:
            app._database_url = args.database_url
        code = handler(args, app)
    except ToroError as exc:
        print(f"toro-core: error: {exc}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
    if argv is None:
        sys.exit(code)
    return code
