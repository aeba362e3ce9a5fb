"""The ``toro-core`` command: ``start``, ``migrate``, ``status``, ``plugins``, ``jobs``,
``queues``, ``prune``, and the subcommands plugins add through the ``cli_commands`` hook.

Every option of ``start`` can also come from a ``TORO_*`` environment variable (named in
``--help``); the command line wins. Errors a user can fix (no database, unreachable server,
missing schema, a bad worker module, a bad option value) print one line and exit 1 (2 for
argparse's usage errors), without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from toro_core import __version__
from toro_core.app import Toro
from toro_core.cli import admin, jobs, prune, queues, start
from toro_core.cli.options import common_options, configure_logging, log_level
from toro_core.errors import ToroError

Handler = Callable[[argparse.Namespace, Toro], int]


def build_parser(app: Toro | None = None) -> argparse.ArgumentParser:
    """The parser of ``toro-core``, with ``app``'s plugins' subcommands when given."""
    common = common_options()
    parser = argparse.ArgumentParser(
        prog="toro-core", description="Background jobs on PostgreSQL.", parents=[common]
    )
    parser.add_argument("--version", action="version", version=f"toro-core {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    start.add_command(sub, common, app)
    admin.add_commands(sub, common)
    jobs.add_command(sub, common)
    queues.add_command(sub, common)
    prune.add_command(sub, common)
    if app is not None:
        app.plugin_manager.hook.cli_commands(subparsers=sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``toro-core``; returns (and exits with) the exit code."""
    try:
        app = Toro()
        parser = build_parser(app)
        args = parser.parse_args(argv)
        args.database_url = getattr(args, "database_url", None)
        args.log_level = log_level(getattr(args, "log_level", None))
        configure_logging(args.log_level)
        handler: Handler | None = getattr(args, "handler", None)
        if handler is None:
            parser.print_help()
            return 2
        if args.database_url:
            app.database_url = args.database_url
        pgbouncer = getattr(args, "pgbouncer", None)
        listen_url = getattr(args, "listen_database_url", None)
        if pgbouncer is not None or listen_url is not None:
            app.use_pgbouncer(pgbouncer, listen_url)
        code = handler(args, app)
    except ToroError as exc:
        print(f"toro-core: error: {exc}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
    if argv is None:
        sys.exit(code)
    return code
