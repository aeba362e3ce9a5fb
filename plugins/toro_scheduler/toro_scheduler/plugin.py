"""Hook implementations of toro-scheduler (entry point ``scheduler`` in group ``toro``).

* ``migrations``: the index the promoter uses and the tables of periodic schedules.
* ``statuses``: ``scheduled``, a job waiting for its ``scheduled_at``.
* ``worker_options``: ``schedule``, ``schedule_timezone``, ``schedule_catch_up``,
  ``schedule_args`` (:mod:`toro_scheduler.schedules`).
* ``worker_services``: the promoter (:mod:`toro_scheduler.promoter`) and the periodic
  enqueuer (:mod:`toro_scheduler.periodic`), in every worker process.
* ``cli_commands``: ``toro-core schedules`` (:mod:`toro_scheduler.cli`).
* ``monitor_views``: the "Scheduled" page of toro-monitor (:mod:`toro_scheduler.monitor`).

``perform_in`` / ``perform_at`` live in :mod:`toro_scheduler.enqueue`, which the kernel's
``Worker`` methods import when called. Nothing here imports Litestar or toro-monitor: the
plugin installs and runs alone, and only the monitor calls ``monitor_views``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from toro_core import MigrationSource, MonitorView, Status, hookimpl
from toro_scheduler.schedules import OPTIONS
from toro_scheduler.statuses import SCHEDULED

if TYPE_CHECKING:
    from toro_core.runtime.context import ServiceContext


@hookimpl
def migrations() -> MigrationSource:
    return MigrationSource(owner="scheduler", package="toro_scheduler.migrations")


@hookimpl
def statuses() -> Iterable[Status]:
    return (SCHEDULED,)


@hookimpl
def worker_options() -> dict[str, str]:
    return dict(OPTIONS)


@hookimpl
def worker_services(context: ServiceContext) -> Iterable[Any]:
    from toro_scheduler.periodic import PeriodicEnqueuer
    from toro_scheduler.promoter import Promoter

    return (Promoter(context).run, PeriodicEnqueuer(context).run)


@hookimpl
def cli_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from toro_scheduler.cli import add_command

    add_command(subparsers)


@hookimpl
def monitor_views() -> list[MonitorView]:
    from toro_scheduler.monitor import scheduled_page

    return [scheduled_page()]
