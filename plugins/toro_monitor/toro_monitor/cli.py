"""``toro-core monitor``: serve the monitor with uvicorn."""

from __future__ import annotations

import argparse
import logging
import sys

from toro_core import ConfigurationError, Toro
from toro_monitor.options import MonitorOptions

log = logging.getLogger("toro.monitor")

WARNING = """\
******************************************************************************
  WARNING: the toro monitor is serving on {host}:{port} WITHOUT AUTHENTICATION.
  Anyone who can reach this address can read every job's arguments and
  properties and retry jobs. Set TORO_MONITOR_USER and TORO_MONITOR_PASSWORD,
  implement the monitor_authorize hook, or bind to 127.0.0.1.
******************************************************************************"""


def add_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from toro_core.plugin import common_options

    parser = subparsers.add_parser(
        "monitor", parents=[common_options()], help="serve the web monitor"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    parser.add_argument(
        "--poll-interval",
        type=int,
        default=3000,
        help="milliseconds between live refreshes (default 3000)",
    )
    parser.set_defaults(handler=run)


def unprotected_warning(host: str, port: int, options: MonitorOptions, app: Toro) -> str | None:
    """The warning to print, or ``None`` when auth is on or only this machine can connect."""
    from toro_monitor import auth  # Litestar, imported only when the monitor is served

    if options.basic_auth or auth.has_authorize_hook(app) or auth.is_loopback(host):
        return None
    return WARNING.format(host=host, port=port)


def run(args: argparse.Namespace, app: Toro) -> int:
    """Serve the monitor; a bad option (or basic auth half configured in the environment) is
    a :class:`~toro_core.ConfigurationError`, which ``toro-core`` prints as one line."""
    import uvicorn

    from toro_monitor.app import create_app

    try:
        options = MonitorOptions(poll_interval=args.poll_interval)
    except ConfigurationError:
        raise
    except ValueError as exc:
        raise ConfigurationError(f"monitor: {exc}") from None
    warning = unprotected_warning(args.host, args.port, options, app)
    if warning:
        print(warning, file=sys.stderr, flush=True)
        log.warning("monitor serving without authentication on %s:%s", args.host, args.port)
    monitor = create_app(app, options)
    print(f"toro monitor on http://{args.host}:{args.port}/jobs", file=sys.stderr, flush=True)
    uvicorn.run(monitor, host=args.host, port=args.port, log_level=args.log_level.lower())
    return 0
