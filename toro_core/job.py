"""The job as an immutable value: what one row of ``toro_jobs`` says."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

#: The columns every query that builds a Job selects, in this order.
JOB_COLUMNS = (
    "id",
    "queue",
    "class_name",
    "args",
    "name",
    "created_at",
    "scheduled_at",
    "started_at",
    "finished_at",
    "status",
    "started_by",
    "properties",
    "attempt",
)


@dataclasses.dataclass(frozen=True, slots=True)
class Job:
    """One job. Frozen: plugins derive changed copies with :meth:`evolve`."""

    #: Primary key; increases with insertion order.
    id: int
    #: Queue the job waits in; a worker process serves a list of queues.
    queue: str
    #: Import path of the worker class, ``module.Qualified.Name``.
    class_name: str
    #: Positional arguments of ``perform``, as JSON values.
    args: list[Any]
    #: Display name from the ``job_name`` hook (``None`` when no plugin named it).
    name: str | None
    #: When the job was inserted.
    created_at: datetime
    #: When the job may run at the earliest (scheduled jobs), else ``None``.
    scheduled_at: datetime | None
    #: When its current or last attempt started.
    started_at: datetime | None
    #: When its last attempt ended, successfully or not.
    finished_at: datetime | None
    #: ``queued``, ``running``, ``complete``, ``failed`` or a plugin's status.
    status: str
    #: ``host:pid`` of the process running or last running it.
    started_by: str | None
    #: Free-form JSON data: errors (``error:*``), plugin data, the job's own properties.
    properties: dict[str, Any]
    #: How many times the job has been claimed by a worker (1 during its first run).
    attempt: int

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Job:
        """Build a Job from a mapping holding at least :data:`JOB_COLUMNS`."""
        return cls(**{name: row[name] for name in JOB_COLUMNS})

    def evolve(self, **changes: Any) -> Job:
        """Return a copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    @property
    def duration(self) -> timedelta | None:
        """Run time of the last attempt, once it has finished."""
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at
