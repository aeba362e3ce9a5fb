"""Hook implementations of toro-monitor (entry point ``monitor`` in group ``toro``).

* ``add_hookspecs``: the hooks the monitor defines for other plugins (:mod:`.hookspecs`).
* ``migrations``: the indexes the monitor's pages use.
* ``cli_commands``: ``toro-core monitor``.

Everything else happens when the app is built (:func:`toro_monitor.create_app`).
"""

from __future__ import annotations

import argparse

import pluggy

from toro_core import MigrationSource, hookimpl


@hookimpl
def add_hookspecs(pluginmanager: pluggy.PluginManager) -> None:
    from toro_monitor import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


@hookimpl
def migrations() -> MigrationSource:
    return MigrationSource(owner="monitor", package="toro_monitor.migrations")


@hookimpl
def cli_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from toro_monitor.cli import add_command

    add_command(subparsers)
