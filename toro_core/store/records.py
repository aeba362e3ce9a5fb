"""What some store operations take or give back, beyond rows and jobs."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from toro_core.job import Job


@dataclasses.dataclass(slots=True)
class PendingOutcome:
    """One finished attempt, ready to be written by :meth:`CoreStore.finish`."""

    id: int
    attempt: int
    #: The registry id the attempt was claimed under (the holder half of the fencing token).
    owner: str
    status: str
    duration: float
    scheduled_at: datetime | None
    #: JSON object text merged into the row's properties (``"{}"`` for none).
    patch: str
    #: JSON text of what perform returned, stored in ``result`` (``None``: left as it is).
    result: str | None = None
    #: A write of it failed midway: it may have committed with its answer lost.
    tried: bool = False
    #: The job as it was claimed (for the ``outcomes_written`` hook; not written).
    job: Job | None = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def plain(self) -> bool:
        """No properties to merge, no new due time and no result: written by the lighter
        statement."""
        return self.patch == "{}" and self.scheduled_at is None and self.result is None


class Recovery(NamedTuple):
    """What one run of :meth:`CoreStore.recover` did."""

    #: Processes declared dead (removed from the registry).
    dead_processes: int
    #: Jobs put back to queued (or cancelled, when a cancel was asked).
    recovered_jobs: int
    #: Jobs failed instead: their worker died under them ``max_recoveries`` times.
    failed_ids: list[int]


#: A prune's keyset cursor: the ``(finished_at, id)`` of the last job a batch deleted.
PruneCursor = tuple[datetime, int]


class PruneBatch(NamedTuple):
    """What one batch of :meth:`CoreStore.prune_batch` did."""

    #: Whether it held the prune lock (when not, another process was pruning: nothing done).
    locked: bool
    #: Jobs deleted.
    deleted: int
    #: Where the next batch of the same status starts (``None`` when nothing was deleted).
    cursor: PruneCursor | None
