"""What a worker process shares with its parts, with plugin services and with each attempt."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel

from toro_core.runtime.stats import ProcessStats

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

    from toro_core.app import Toro
    from toro_core.settings import WorkerSettings
    from toro_core.store import CoreStore


def _loop_token() -> anyio.lowlevel.EventLoopToken | None:
    """The running event loop's token (a context is built on the loop it serves)."""
    try:
        return anyio.lowlevel.current_token()
    except RuntimeError:  # built outside an event loop (a test's context)
        return None


@dataclasses.dataclass(slots=True, eq=False)
class ProcessContext:
    """One worker process, as plugins see it.

    Handed to the ``worker_services`` hook, and carried by every attempt's
    :attr:`~toro_core.outcome.Execution.process`, so middleware reaches the same process state
    that the plugin's services keep (in :attr:`state`) without relying on which task called
    which hook.
    """

    app: Toro
    settings: WorkerSettings
    #: The process's async pool (autocommit connections); keep checkouts short.
    pool: AsyncConnectionPool[Any]
    #: The kernel's operations on that pool.
    store: CoreStore
    #: Set when the process begins to stop; services should return soon after.
    stopping: anyio.Event
    #: Returns this process's current registry id (see :attr:`process_id`).
    current_id: Callable[[], str] = lambda: ""
    #: Per-process state plugins keep between their services and their middleware, under a
    #: key of their own name (``context.state["properties"]``).
    state: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: Returns this process's live numbers (see :attr:`stats`).
    current_stats: Callable[[], ProcessStats] = ProcessStats
    #: The process's event loop, for code in a sync ``perform``'s thread to call back into it
    #: (``anyio.from_thread.run(..., token=context.token)``).
    token: anyio.lowlevel.EventLoopToken | None = dataclasses.field(default_factory=_loop_token)
    #: The id of the thread that runs that event loop.
    loop_thread: int = dataclasses.field(default_factory=threading.get_ident)

    @property
    def stats(self) -> ProcessStats:
        """The process's live numbers (busy slots, outcomes waiting to be written, claim
        errors, reconnects...): a read-only view, cheap to read from any thread
        (:class:`~toro_core.runtime.stats.ProcessStats`)."""
        return self.current_stats()

    @property
    def process_id(self) -> str:
        """This process's registry id now: the holder half of new claims' fencing tokens. It
        changes when the process registers again after being declared dead."""
        return self.current_id()
