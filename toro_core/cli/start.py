"""``toro-core start``: run a worker process, with the kernel's options and the plugins'."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from toro_core.cli.options import (
    add_retention_options,
    env,
    env_flag,
    env_list,
    import_modules,
    positive_int,
    positive_seconds,
    retention_of,
    seconds_or_zero,
)
from toro_core.errors import ConfigurationError
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
    (
        ("--summary-interval",),
        seconds_or_zero,
        "SUMMARY_INTERVAL",
        "10",
        "seconds between summary lines of the jobs run (0: none; per-job lines at DEBUG)",
    ),
    (
        ("--max-recoveries",),
        positive_int,
        "MAX_RECOVERIES",
        "3",
        "times a job may lose its worker process (crash, kill) before it ends failed",
    ),
)


FLAG = re.compile(r"--[a-z][a-z0-9]*(-[a-z0-9]+)*")


class StartOptions:
    """What the ``start_options`` hook is given: a way to add options to ``toro-core start``.

    Each option is a long flag that also reads a ``TORO_*`` variable, like the kernel's own
    options (``--metrics-port`` reads ``$TORO_METRICS_PORT``; the command line wins). Its parsed
    value reaches the worker process as ``context.settings.plugin_options[name]``, the name being
    the flag without dashes, in snake case (``"metrics_port"``); an option given neither way has
    its ``default``.
    """

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self._parser = parser
        self._group = parser.add_argument_group("options of plugins")
        #: Names of the options added so far, in order.
        self.names: list[str] = []

    def add(
        self,
        flag: str,
        *,
        help: str,
        type: Callable[[str], Any] = str,
        default: Any = None,
        metavar: str | None = None,
    ) -> None:
        """Add ``flag`` (``"--metrics-port"``): ``type`` parses the text of the flag or of its
        variable (raise ``argparse.ArgumentTypeError`` or ``ValueError`` to refuse it: the user
        gets argparse's one-line error naming the option); ``default`` is used as it is."""
        if not isinstance(flag, str) or not FLAG.fullmatch(flag):
            raise ConfigurationError(
                f"start option {flag!r}: a plugin option is a long flag such as '--metrics-port'"
            )
        variable = flag[2:].upper().replace("-", "_")
        name = variable.lower()
        if name in ("handler", "plugin_options") or any(
            action.dest == name for action in self._parser._actions
        ):
            raise ConfigurationError(f"start option {flag}: the name {name!r} is taken")
        try:
            self._group.add_argument(
                flag,
                dest=name,
                type=type,
                default=env(variable, default),
                metavar=metavar,
                help=f"{help} ($TORO_{variable}"
                + (f", {default})" if default is not None else ")"),
            )
        except argparse.ArgumentError as exc:
            raise ConfigurationError(f"start option {flag}: {exc.message}") from None
        self.names.append(name)


def add_command(sub: Any, common: argparse.ArgumentParser, app: Toro | None = None) -> None:
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
    start.add_argument(
        "--allow-import",
        dest="allow_import",
        action="append",
        default=None,
        metavar="PACKAGE",
        help="package whose modules a job may make this process import on first use, "
        "repeatable ($TORO_ALLOW_IMPORT, comma-separated; default none: only classes from -r "
        "modules and what they import run)",
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
        default=None,
        help="wait for the WAL flush on every claim and outcome ($TORO_SYNCHRONOUS_COMMIT, off)",
    )
    add_retention_options(start)
    options = StartOptions(start)
    if app is not None:
        app.plugin_manager.hook.start_options(options=options)
    start.set_defaults(handler=run, plugin_options=tuple(options.names))


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
        synchronous_commit=args.synchronous_commit or env_flag("SYNCHRONOUS_COMMIT"),
        max_recoveries=args.max_recoveries,
        summary_interval=args.summary_interval,
        allow_import=tuple(
            args.allow_import if args.allow_import is not None else env_list("ALLOW_IMPORT")
        ),
        retention=retention_of(args),
        plugin_options={name: getattr(args, name) for name in args.plugin_options},
    )
    return run_worker(app, settings)
