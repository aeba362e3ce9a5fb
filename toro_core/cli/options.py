"""Pieces every ``toro-core`` subcommand uses, the kernel's and the plugins' alike.

Plugins reach these through :mod:`toro_core.plugin` (``common_options``, ``env_list``,
``import_modules``).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from toro_core.errors import ConfigurationError, ToroError
from toro_core.retention import Retention, parse_duration


def env(name: str, default: Any = None) -> Any:
    """The value of ``$TORO_<name>``, or ``default``."""
    return os.environ.get(f"TORO_{name}", default)


def env_list(name: str, default: Sequence[str] = ()) -> list[str]:
    """The comma-separated values of ``$TORO_<name>``."""
    value = env(name)
    return [v.strip() for v in value.split(",") if v.strip()] if value else list(default)


_TRUE = ("1", "on", "true", "yes")
_FALSE = ("", "0", "off", "false", "no")
#: The values of ``--log-level`` and ``$TORO_LOG_LEVEL``.
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def env_flag(name: str) -> bool:
    """``$TORO_<name>`` as a yes/no value (on/off, true/false, 1/0, yes/no; unset is off); a
    :class:`~toro_core.errors.ConfigurationError` naming the variable for anything else."""
    value = str(env(name, "")).strip().lower()
    if value in _TRUE or value in _FALSE:
        return value in _TRUE
    raise ConfigurationError(f"TORO_{name} must be on or off (got {env(name)!r})")


def log_level(option: str | None) -> str:
    """The logging level: ``--log-level``, else ``$TORO_LOG_LEVEL``, else INFO; a
    :class:`~toro_core.errors.ConfigurationError` for a level that does not exist."""
    if option:
        return option
    value = str(env("LOG_LEVEL", "INFO")).strip().upper() or "INFO"
    if value not in LOG_LEVELS:
        raise ConfigurationError(
            f"TORO_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)} (got {env('LOG_LEVEL')!r})"
        )
    return value


def common_options() -> argparse.ArgumentParser:
    """The options every subcommand has, before or after the subcommand's name.

    Use it as a parent parser: ``subparsers.add_parser("x", parents=[common_options()])``.
    Defaults are suppressed here so that a value given before the subcommand is not reset by
    the subcommand's copy of the option; ``toro-core`` fills them in after parsing
    (``args.database_url`` is then the option or ``None``) and sets the app's database URL and
    PgBouncer options from them.
    """
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument(
        "--database-url",
        default=argparse.SUPPRESS,
        help="PostgreSQL URL or conninfo (default: $TORO_DATABASE_URL)",
    )
    parser.add_argument(
        "--pgbouncer",
        default=argparse.SUPPRESS,
        choices=("off", "session", "transaction"),
        help="PgBouncer's pool_mode between toro and PostgreSQL: 'transaction' turns off "
        "prepared statements and session state ($TORO_PGBOUNCER, default off)",
    )
    parser.add_argument(
        "--listen-database-url",
        default=argparse.SUPPRESS,
        help="direct PostgreSQL URL for LISTEN behind PgBouncer in transaction mode; without "
        "one, workers poll ($TORO_LISTEN_DATABASE_URL)",
    )
    parser.add_argument(
        "--log-level",
        default=argparse.SUPPRESS,
        choices=LOG_LEVELS,
        type=str.upper,
        help="logging level of the 'toro' logger ($TORO_LOG_LEVEL, default INFO)",
    )
    return parser


def import_modules(modules: Sequence[str]) -> None:
    """Import the modules that define workers (``-r``); the current directory is importable.

    A module that cannot be imported is a :class:`~toro_core.errors.ToroError` naming it.
    """
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise ToroError(f"cannot import worker module {name!r}: {exc}") from exc


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    logging.getLogger("toro").setLevel(level)


def _number(kind: type, low: float, strict: bool, what: str) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if value != value or value in (float("inf"), float("-inf")):  # NaN, infinity
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        if value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value

    parse.__name__ = what  # argparse names the type in its messages
    return parse


#: argparse types for option values that must be a count or a duration.
positive_int = _number(int, 1, False, "a whole number of at least 1")
positive_seconds = _number(float, 0, True, "a number of seconds above 0")
seconds_or_zero = _number(float, 0, False, "a number of seconds, 0 or more")


def duration(text: str) -> float | None:
    """argparse type of a retention (``--keep-complete``): seconds, ``None`` for forever; a
    bad value is argparse's one-line error naming the option (see
    :func:`toro_core.retention.parse_duration`)."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


#: The retention options of ``start`` and ``prune``: flag, TORO_* variable, status, default.
RETENTION_OPTIONS = (
    ("--keep-complete", "KEEP_COMPLETE", "complete", "14d"),
    ("--keep-failed", "KEEP_FAILED", "failed", "30d"),
    ("--keep-cancelled", "KEEP_CANCELLED", "cancelled", "30d"),
)


def add_retention_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--keep-complete``, ``--keep-failed`` and ``--keep-cancelled`` (each also read from
    its ``TORO_KEEP_*`` variable; the command line wins) as ``args.keep_<status>``."""
    group = parser.add_argument_group("retention (durations such as 90s, 15m, 12h, 7d, forever)")
    for flag, variable, status, default in RETENTION_OPTIONS:
        group.add_argument(
            flag,
            dest=f"keep_{status}",
            type=duration,
            default=env(variable, default),
            metavar="DURATION",
            help=f"keep {status} jobs this long after they finished ($TORO_{variable}, {default})",
        )


def retention_of(args: argparse.Namespace) -> Retention:
    """The :class:`~toro_core.retention.Retention` of parsed retention options."""
    return Retention(
        complete=args.keep_complete, failed=args.keep_failed, cancelled=args.keep_cancelled
    )
