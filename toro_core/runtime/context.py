"""What a worker process shares with its parts and with plugin services."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

    from toro_core.app import Toro
    from toro_core.settings import WorkerSettings


@dataclasses.dataclass(slots=True, eq=False)
class ServiceContext:
    """Handed to the ``worker_services`` hook: everything a background service may use."""

    app: Toro
    settings: WorkerSettings
    #: The process's async pool (autocommit connections); keep checkouts short.
    pool: AsyncConnectionPool[Any]
    #: Set when the process begins to stop; services should return soon after.
    stopping: anyio.Event
    #: Returns this process's current registry id (it changes when the process registers
    #: again after being declared dead); see :attr:`process_id`.
    current_id: Callable[[], str] = lambda: ""

    @property
    def process_id(self) -> str:
        """This process's registry id now: the holder half of new claims' fencing tokens."""
        return self.current_id()
