"""The Queues page's view of each queue beyond its job counts: paused or not, the processes
serving it, and its concurrency limit with how full it is. Built from the kernel's small
tables (``toro_queues``, ``toro_processes``, ``toro_limits``), never from a scan of jobs."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

#: Prefix of a queue's limit key in ``toro_limits`` (``toro-core queues limit NAME``).
QUEUE_LIMIT = "queue:"
#: Limits the page lists at most (queues' first): per-key limits can be many thousands.
LIMITS_SHOWN = 100


@dataclasses.dataclass(frozen=True)
class QueueState:
    """What the kernel knows of one queue besides its jobs."""

    name: str
    paused_at: datetime | str | None = None
    paused_by: str | None = None
    #: Live processes serving the queue, and their slots (concurrency) summed.
    processes: int = 0
    slots: int = 0
    #: The queue's concurrency limit (``None``: none), the jobs holding its slots, and the jobs
    #: blocked waiting for one.
    limit: int | None = None
    running: int = 0
    blocked: int = 0

    @property
    def paused(self) -> bool:
        return self.paused_at is not None


@dataclasses.dataclass(frozen=True)
class Overview:
    """Every queue's state by name, and every limit (queues', worker classes', keys')."""

    queues: dict[str, QueueState]
    #: At most :data:`LIMITS_SHOWN` limits, queues' first, then by key.
    limits: list[dict[str, Any]]
    #: Whether there are more limits than those.
    more_limits: bool = False

    def state(self, name: str) -> QueueState:
        return self.queues.get(name) or QueueState(name)

    def names(self, counted: Iterable[str]) -> list[str]:
        """``counted`` (the queues that have jobs) and the queues known only here, sorted."""
        return sorted({*counted, *self.queues})


def overview(
    states: Sequence[Mapping[str, Any]],
    processes: Sequence[Mapping[str, Any]],
    limits: Sequence[Mapping[str, Any]],
) -> Overview:
    """Combine the rows of ``queue_states``, ``processes`` and ``list_limits`` (CoreStore;
    asked for one limit more than :data:`LIMITS_SHOWN`, to know whether more exist)."""
    found: dict[str, dict[str, Any]] = {}

    def entry(name: str) -> dict[str, Any]:
        return found.setdefault(name, {"name": name})

    for row in states:
        entry(row["name"]).update(paused_at=row["paused_at"], paused_by=row["paused_by"])
    for process in processes:
        for name in process["queues"] or ():
            queue = entry(name)
            queue["processes"] = queue.get("processes", 0) + 1
            queue["slots"] = queue.get("slots", 0) + int(process["concurrency"] or 0)
    for row in limits:
        key = str(row["key"])
        if key.startswith(QUEUE_LIMIT) and row["concurrency"] is not None:
            entry(key[len(QUEUE_LIMIT) :]).update(
                limit=int(row["concurrency"]),
                running=int(row["running"] or 0),
                blocked=int(row["blocked"] or 0),
            )
    return Overview(
        queues={name: QueueState(**values) for name, values in found.items()},
        limits=[dict(row) for row in limits[:LIMITS_SHOWN]],
        more_limits=len(limits) > LIMITS_SHOWN,
    )
