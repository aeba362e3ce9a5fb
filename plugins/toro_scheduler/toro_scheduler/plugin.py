"""Hook implementations of toro-scheduler (entry point ``scheduler`` in group ``toro``).

* ``migrations``: the tables of periodic schedules and their ticks.
* ``worker_options``: ``schedule``, ``schedule_timezone``, ``schedule_catch_up``,
  ``schedule_args`` (:mod:`toro_scheduler.schedules`).
* ``worker_services``: the periodic enqueuer (:mod:`toro_scheduler.periodic`), in every worker
  process.
* ``cli_commands``: ``toro-core schedules`` (:mod:`toro_scheduler.cli`).
* ``monitor_views`` (toro-monitor's hook, optional): the "Scheduled" page
  (:mod:`toro_scheduler.monitor`).

Jobs that wait for a time (``perform_in``, ``perform_at``, retries) are the kernel's: it owns
the ``scheduled`` status and promotes due jobs. This plugin adds what repeats. Nothing here
imports Litestar or toro-monitor: the plugin installs and runs alone.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from toro_core import MigrationSource, hookimpl
from toro_scheduler.schedules import OPTIONS

if TYPE_CHECKING:
    from toro_core.plugin import ProcessContext


@hookimpl
def migrations() -> MigrationSource:
    return MigrationSource(owner="scheduler", package="toro_scheduler.migrations")


@hookimpl
def worker_options() -> dict[str, str]:
    return dict(OPTIONS)


@hookimpl
def worker_services(context: ProcessContext) -> Iterable[Any]:
    from toro_scheduler.periodic import PeriodicEnqueuer

    return (PeriodicEnqueuer(context).run,)


@hookimpl
def cli_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from toro_scheduler.cli import add_command

    add_command(subparsers)


@hookimpl(optionalhook=True)
def monitor_views() -> list[Any]:
    from toro_scheduler.monitor import scheduled_page

    return [scheduled_page()]
