"""Hook implementations of toro-properties (entry point ``properties`` in group ``toro``).

* ``job_finished`` stores the properties a job returns (:mod:`toro_properties.returned`); the
  live API (:mod:`toro_properties.live`) finds its job through the kernel's current attempt.
  No middleware: an attempt that uses neither costs the plugin a dictionary lookup or two.
* ``worker_services`` keeps the list of property indexes fresh in the process's state
  (``context.state["properties"]``, which the API finds on ``execution.process``), so
  values an index could not cast are refused before they are written.
* ``cli_commands`` adds ``toro-core properties index|indexes|drop-index``.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import anyio

from toro_core import Execution, hookimpl
from toro_core.plugin import TRANSIENT
from toro_properties import cli, returned
from toro_properties.indexes import aload_property_indexes
from toro_properties.live import STATE_KEY, ProcessState

if TYPE_CHECKING:
    from toro_core.plugin import ProcessContext

log = logging.getLogger("toro.properties")

#: Seconds between two readings of the property indexes in a running worker.
INDEX_REFRESH_INTERVAL = 10.0


@hookimpl
def job_finished(execution: Execution) -> Awaitable[None] | None:
    """Store the ``job_properties`` the attempt returned; close it for the live API."""
    return returned.finish(execution)


@hookimpl
def worker_services(context: ProcessContext) -> list[Callable[[], Awaitable[None]]]:
    state = context.state[STATE_KEY] = ProcessState()

    async def watch_indexes() -> None:
        """Read the property indexes now and every few seconds until the process stops."""
        while not context.stopping.is_set():
            try:
                state.indexes = tuple(await aload_property_indexes(context.store))
            except TRANSIENT as exc:
                log.debug("reading property indexes failed (%s); retrying", exc)
            except Exception:
                log.exception("reading property indexes failed; retrying")
            finally:
                state.ready.set()
            with anyio.move_on_after(INDEX_REFRESH_INTERVAL):
                await context.stopping.wait()

    return [watch_indexes]


@hookimpl
def cli_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cli.add_commands(subparsers)
