"""Hook implementations of toro-properties (entry point ``properties`` in group ``toro``).

* ``around_job`` stores the properties a job returns and lets it set properties while it runs
  (:mod:`toro_properties.middleware`, :mod:`toro_properties.live`).
* ``worker_services`` hands the middleware the worker's pool and keeps the list of property
  indexes fresh, so values an index could not cast are refused before they are written.
* ``cli_commands`` adds ``toro-core properties index|indexes|drop-index``.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

import anyio

from toro_core import Execution, hookimpl
from toro_core.runtime.backoff import TRANSIENT
from toro_properties import cli, middleware
from toro_properties.indexes import aload_property_indexes
from toro_properties.live import ProcessState

if TYPE_CHECKING:
    from toro_core.runtime.context import ServiceContext

log = logging.getLogger("toro.properties")

#: Seconds between two readings of the property indexes in a running worker.
INDEX_REFRESH_INTERVAL = 10.0


@hookimpl
def around_job(execution: Execution) -> AbstractAsyncContextManager[None]:
    return middleware.track(execution)


@hookimpl
def worker_services(context: ServiceContext) -> list[Callable[[], Awaitable[None]]]:
    state = ProcessState(pool=context.pool, database_url=context.app.database_url)
    # Called in the task that starts the jobs, so every job's context inherits it.
    middleware.attach_process(state)

    async def watch_indexes() -> None:
        """Read the property indexes now and every few seconds until the process stops."""
        try:
            while not context.stopping.is_set():
                try:
                    async with context.pool.connection() as conn:
                        state.indexes = tuple(await aload_property_indexes(conn))
                except TRANSIENT as exc:
                    log.debug("reading property indexes failed (%s); retrying", type(exc).__name__)
                except Exception:
                    log.exception("reading property indexes failed; retrying")
                finally:
                    state.ready.set()
                with anyio.move_on_after(INDEX_REFRESH_INTERVAL):
                    await context.stopping.wait()
        finally:
            middleware.detach_process(state)

    return [watch_indexes]


@hookimpl
def cli_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cli.add_commands(subparsers)


