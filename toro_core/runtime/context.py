"""What a worker process shares with its parts and with plugin services."""

from __future__ import annotations

import dataclasses
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
    #: This process's registry id: the holder half of the fencing token.
    process_id: str = ""
