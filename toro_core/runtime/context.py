"""What a worker process shares with its parts, with plugin services and with each attempt."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio

from toro_core.runtime.stats import ProcessStats

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

    from toro_core.app import Toro
    from toro_core.settings import WorkerSettings
    from toro_core.store import CoreStore


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
