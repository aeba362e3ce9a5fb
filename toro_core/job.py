"""The job as an immutable value: what one row of ``toro_jobs`` says."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from toro_core.encoding import UndecodableError, decode_document

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
    "kwargs",
    "priority",
    "unique_key",
    "cancel_requested_at",
    "limit_key",
    "holds_slots",
    "result",
    "headers",
)
#: The JSON columns of a job and the kind of document each holds.
_DOCUMENTS: tuple[tuple[str, type[Any]], ...] = (
    ("args", list),
    ("kwargs", dict),
    ("properties", dict),
    ("headers", dict),
)
#: How many of :data:`JOB_COLUMNS` every row must have.
_REQUIRED = JOB_COLUMNS.index("kwargs")
#: A row holding all of these is read positionally (the kernel's own queries select them all).
_EVERY_COLUMN = frozenset(JOB_COLUMNS)
#: The columns of a claim's rows, in this order: every one but ``result`` (an attempt starting
#: has none to use), the JSON ones as text (see :meth:`Job.from_claim_row`).
CLAIM_COLUMNS = tuple(name for name in JOB_COLUMNS if name != "result")
_CLAIM_DOCUMENTS = tuple((CLAIM_COLUMNS.index(name), name, kind) for name, kind in _DOCUMENTS)
_RESULT_AT = JOB_COLUMNS.index("result")


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
    #: Keyword arguments of ``perform``, as JSON values.
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: -100..100; within the queues a process serves, higher runs first, then older.
    priority: int = 0
    #: For unique jobs: no other job with this key waits or runs while this one does.
    unique_key: str | None = None
    #: When a cancel was asked while the job ran (its holder stops it).
    cancel_requested_at: datetime | None = None
    #: The concurrency or rate limit the job counts against (its class's, or class and key).
    limit_key: str | None = None
    #: Whether the job holds concurrency slots while it runs (freed when it stops running).
    holds_slots: bool = False
    #: What ``perform`` returned, as JSON (``None`` until then, when it returned ``None``, or
    #: when its value was not JSON: ``properties["result:rejected"]`` says why). Read it after
    #: a refresh (``app.job(id)``) or wait for it (``app.wait(id)``).
    result: Any = None
    #: What the ``job_headers`` hook stored at enqueue (a trace context), ``{}`` for none.
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    #: Set on the Job an enqueue returns when a unique job with the same key already waited
    #: or ran: no row was written, this is the existing job.
    duplicate: bool = dataclasses.field(default=False, compare=False)
    #: Set on a claimed job whose row could not be read back (arguments or properties nested
    #: too deep, an integer too long): why. Its ``args``, ``kwargs`` and ``properties`` are
    #: then empty, and the worker fails it without running it.
    undecodable: str | None = dataclasses.field(default=None, compare=False)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Job:
        """Build a Job from a mapping holding :data:`JOB_COLUMNS` (those added after the
        seed's, from ``kwargs`` on, may be missing: a plugin's older query still works)."""
        if row.keys() >= _EVERY_COLUMN:
            # the common case (every claim): the fields in column order, without building a
            # dict of keyword arguments first (half the time of a claimed job's reading)
            every = [row[name] for name in JOB_COLUMNS]
            if every[-1] is None:  # headers NULL: no plugin set any
                every[-1] = {}
            return cls(*every)
        values = {name: row[name] for name in JOB_COLUMNS[:_REQUIRED]}
        values.update({name: row[name] for name in JOB_COLUMNS[_REQUIRED:] if name in row})
        if values.get("headers", {}) is None:  # NULL: no plugin set any
            del values["headers"]
        return cls(**values)

    @classmethod
    def from_json_row(cls, row: Mapping[str, Any]) -> Job:
        """:meth:`from_row` for a row whose ``args``, ``kwargs``, ``properties`` and ``headers``
        are JSON text (the claim's): each is read with the limits of :mod:`toro_core.encoding`,
        so a row no worker could use becomes a job with :attr:`undecodable` set, never an
        error."""
        values = dict(row)
        problems = []
        for column, kind in _DOCUMENTS:
            try:
                values[column] = decode_document(row.get(column), kind)
            except UndecodableError as exc:
                values[column] = kind()
                problems.append(f"{column}: {exc}")
        job = cls.from_row(values)
        return job.evolve(undecodable="; ".join(problems)) if problems else job

    @classmethod
    def from_claim_row(cls, row: Sequence[Any]) -> Job:
        """:meth:`from_json_row` for a claim's row: a tuple of :data:`CLAIM_COLUMNS` in that
        order, read by position (no dict per row: this is every job a worker runs)."""
        values = list(row)
        problems = []
        for index, column, kind in _CLAIM_DOCUMENTS:
            try:
                values[index] = decode_document(values[index], kind)
            except UndecodableError as exc:
                values[index] = kind()
                problems.append(f"{column}: {exc}")
        values.insert(_RESULT_AT, None)
        job = cls(*values)
        return job.evolve(undecodable="; ".join(problems)) if problems else job

    def evolve(self, **changes: Any) -> Job:
        """Return a copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    @property
    def snoozes(self) -> int:
        """How many times the job snoozed (``raise Snooze(...)``): claims that spent no try."""
        count = self.properties.get("snooze:count", 0)
        return count if isinstance(count, int) else 0

    @property
    def spent_attempts(self) -> int:
        """Claims that counted as tries: ``attempt`` without the snoozes (retry limits use it)."""
        return max(0, self.attempt - self.snoozes)

    @property
    def duration(self) -> timedelta | None:
        """Run time of the last attempt, once it has finished."""
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at
