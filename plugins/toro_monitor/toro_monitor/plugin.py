"""Hook implementations of toro-monitor (entry point ``monitor`` in group ``toro``).

The monitor adds the ``toro-core monitor`` command and its indexes; everything else happens when
the app is built (:func:`toro_monitor.create_app`).
"""

from __future__ import annotations

import argparse

from toro_core import MigrationSource, hookimpl


@hookimpl
def migrations() -> MigrationSource:
    return MigrationSource(owner="monitor", package="toro_monitor.migrations")


@hookimpl
def cli_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from toro_monitor.cli import add_command

    add_command(subparsers)
