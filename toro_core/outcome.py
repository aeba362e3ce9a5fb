"""What happens to a job after an attempt: the :class:`Outcome` and the :class:`Execution`.

The runtime builds one :class:`Execution` per attempt and hands it to every ``around_job``
middleware. Middleware reads ``execution.result`` or ``execution.error`` after the job ran, adds
to ``execution.properties`` (merged into the row's ``properties``) and may set
``execution.outcome`` to decide the job's next status itself (the retry plugin reschedules a
failed job this way). When no middleware sets an outcome, the kernel's rule applies:
``complete`` on return, ``failed`` on exception.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from toro_core.job import Job

if TYPE_CHECKING:
    from toro_core.runtime.context import ProcessContext
    from toro_core.worker import Worker


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    """The next state of a job: its ``status`` and, for a later run, ``scheduled_at``.

    ``status`` must be registered through the ``statuses`` hook. ``queued`` and ``scheduled``
    send the job back to wait (``scheduled`` needs toro-scheduler to promote it when due).
    """

    status: str
    scheduled_at: datetime | None = None

    @classmethod
    def complete(cls) -> Outcome:
        return cls("complete")

    @classmethod
    def failed(cls) -> Outcome:
        return cls("failed")


@dataclasses.dataclass(slots=True, eq=False)
class Execution:
    """One attempt of one job inside a worker process; mutable by middleware."""

    #: The job as claimed (``status`` is ``running``, ``attempt`` counts this attempt).
    job: Job
    #: The worker instance that runs it, or ``None`` when its class could not be loaded.
    worker: Worker | None
    #: What ``perform`` returned (after it returned).
    result: Any = None
    #: The exception ``perform`` raised, if it did.
    error: BaseException | None = None
    #: Keys merged into the row's ``properties`` when the attempt is written.
    properties: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: Set by middleware to override the kernel's complete/failed decision.
    outcome: Outcome | None = None
    #: Seconds the attempt took, measured by the worker process.
    duration: float = 0.0
    #: Registry id of the process holding the job (with ``job.attempt``, the fencing token):
    #: a write about this attempt should require ``locked_by = holder``.
    holder: str = ""
    #: The worker process running the attempt (its store, settings and the plugins' per-process
    #: ``state``), or ``None`` when the attempt runs outside a worker process.
    process: ProcessContext | None = None
    #: Per-attempt state plugins keep, under a key of their own name (what their API, called
    #: from ``perform``, shares with their ``job_finished``).
    state: dict[str, Any] = dataclasses.field(default_factory=dict)


class WrittenOutcome(NamedTuple):
    """One outcome a worker process wrote, as the ``outcomes_written`` hook sees it: the job
    as it was claimed, the status its row now has (the one written, which is the decided
    outcome's unless the database refused that and the kernel stored a plain failure) and the
    attempt's run time in seconds (the row's ``finished_at`` is ``job.started_at`` plus it)."""

    job: Job
    status: str
    duration: float


class Snooze(Exception):
    """Raise from ``perform`` to run the job again later without spending a try::

        class Poll(Worker):
            def perform(self, order_id):
                if not ready(order_id):
                    raise Snooze(30)        # seconds or a timedelta

    The job goes back to ``scheduled`` for ``seconds`` (``queued`` for 0), with
    ``snooze:count`` (and ``snooze:at``, ``snooze:seconds``) recorded in its properties; the
    attempt is not counted as a failure (``job.spent_attempts`` leaves snoozes out, and
    toro-retry's ``max_attempts`` counts that). Middleware sees it as the exception it is.
    """

    def __init__(self, seconds: float | timedelta = 0) -> None:
        if isinstance(seconds, timedelta):
            seconds = seconds.total_seconds()
        if (
            not isinstance(seconds, (int, float))
            or isinstance(seconds, bool)
            or not 0 <= seconds < float("inf")
        ):
            raise ValueError(f"Snooze takes 0 or more seconds (or a timedelta), not {seconds!r}")
        super().__init__(f"snoozed for {seconds:g} s")
        self.seconds = float(seconds)
