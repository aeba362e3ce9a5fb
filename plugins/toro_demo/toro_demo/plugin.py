"""Hook implementations of toro-demo (entry point ``demo`` in group ``toro``).

Only ``cli_commands``: the command's workers and its custom-status plugin are loaded when the
command runs, so having the demo installed costs a worker process nothing.
"""

from __future__ import annotations

import argparse

from toro_core import hookimpl


@hookimpl
def cli_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from toro_demo.command import add_command

    add_command(subparsers)
