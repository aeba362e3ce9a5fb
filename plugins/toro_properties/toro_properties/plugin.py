"""Hook implementations of toro-properties (entry point ``properties`` in group ``toro``).

* ``job_middleware`` stores the properties a job returns and lets it set properties while it runs
  (:mod:`toro_properties.middleware`, :mod:`toro_properties.live`).
* ``worker_services`` keeps the list of property indexes fresh in the process's state
  (``context.state["properties"]``, which the middleware finds on ``execution.process``), so
  values an index could not cast are refused before they are written.
* ``cli_commands`` adds ``toro-core properties index|indexes|drop-index``.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

import anyio

from toro_core import Execution, Worker, hookimpl
from toro_core.plugin import TRANSIENT
from toro_properties import cli, middleware
from toro_properties.indexes import aload_property_indexes
from toro_properties.live import STATE_KEY, ProcessState

if TYPE_CHECKING:
    from toro_core.plugin import ProcessContext

log = logging.getLogger("toro.properties")

#: Seconds between two readings of the property indexes in a running worker.
INDEX_REFRESH_INTERVAL = 10.0


@hookimpl
def job_middleware(
    worker_class: type[Worker],
) -> Callable[[Execution], AbstractAsyncContextManager[None]]:
    """Every class: any ``perform`` may call ``set_properties`` or return ``job_properties``."""
    return middleware.Tracker


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
