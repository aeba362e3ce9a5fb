"""The running slots: ``concurrency`` runners that take claimed jobs one after another.

Every claimed attempt is a :class:`Claim`: the job and the registry id it was claimed under
(with the attempt number, its fencing token). A slot runs it through the executor and hands
the outcome to the writer. When the process finds it was declared dead, :meth:`Slots.abandon`
stops the attempts held under the old id (others run those jobs now); their outcomes are
never written.

Up to :attr:`Slots.ahead` claims may wait for a slot beyond the ``concurrency`` that run: the
claimer takes the next batch while the slots still run the last one (only while attempts are
short, see :mod:`toro_core.runtime.claimer`), and gives back to the queue, through
:meth:`Slots.take_waiting`, the claims no slot started in time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from typing import TYPE_CHECKING

import anyio

from toro_core.runtime.executor import AttemptControl
from toro_core.runtime.outcomes import some_ids, to_pending
from toro_core.runtime.waker import Waker

if TYPE_CHECKING:
    from toro_core.job import Job
    from toro_core.runtime.executor import Executor
    from toro_core.runtime.outcomes import OutcomeWriter

log = logging.getLogger("toro.worker")


@dataclasses.dataclass(eq=False, slots=True)
class Claim:
    """One claimed attempt: the job and the registry id it was claimed under."""

    job: Job
    owner: str
    #: How the attempt is stopped from outside: a cancel request (it ends ``cancelled``), or
    #: the process being declared dead (others run the job now; nothing is written).
    control: AttemptControl = dataclasses.field(default_factory=AttemptControl)
    #: When it was handed to the slots (monotonic seconds).
    at: float = 0.0
    #: Whether a slot started it (false while it waits for one).
    started: bool = False
    #: Whether it was given back to the queue before any slot started it.
    released: bool = False

    @property
    def abandoned(self) -> bool:
        return self.control.abandoned


class Slots:
    """Runs claimed jobs, at most ``concurrency`` at once; see the module docstring."""

    def __init__(
        self, executor: Executor, writer: OutcomeWriter, concurrency: int, freed: Waker
    ) -> None:
        self.executor = executor
        self.writer = writer
        self.concurrency = concurrency
        #: Woken whenever a slot frees (the claim loop sleeps on it).
        self.freed = freed
        #: Claimed and not finished: waiting for a slot or running.
        self.running: set[Claim] = set()
        #: How many claims may wait for a slot beyond the ``concurrency`` that run (the
        #: claimer sets it).
        self.ahead = 0
        #: A running estimate of how long an attempt takes here (seconds), from the attempts
        #: finished so far; it starts high, so nothing is claimed ahead before it is known.
        self.typical = 1.0
        #: Attempts cancelled by a stop, to be put back to queued.
        self.cancelled: list[Claim] = []
        self._inbox: asyncio.Queue[Claim] = asyncio.Queue()
        self._idle = anyio.Event()

    @property
    def free(self) -> int:
        """How many more claims the slots take now (negative when more wait than allowed)."""
        return self.concurrency + self.ahead - len(self.running)

    def submit(self, jobs: list[Job], owner: str) -> None:
        """Hand claimed jobs to the slots."""
        now = time.monotonic()
        for job in jobs:
            claim = Claim(job, owner, at=now)
            self.running.add(claim)
            self._inbox.put_nowait(claim)

    @property
    def busy(self) -> int:
        """Slots taken: the claims running (those claimed ahead wait and take none)."""
        return min(len(self.running), self.concurrency)

    @property
    def waiting(self) -> bool:
        """Whether a claim waits for a slot (more are claimed than run)."""
        return len(self.running) > self.concurrency

    def take_waiting(self, before: float) -> list[Claim]:
        """The claims handed over before ``before`` (monotonic) that no slot started: they
        are taken out (a slot that reaches one skips it), for the caller to give back."""
        stale = [c for c in self.running if not c.started and c.at < before]
        for claim in stale:
            claim.released = True
            self.running.discard(claim)
        if stale and not self.running:
            self._idle.set()
        return stale

    def held_ids(self, owner: str) -> list[int]:
        """Ids of the jobs claimed under ``owner`` that are waiting or running here."""
        return [c.job.id for c in self.running if c.owner == owner]

    async def run_slot(self) -> None:
        """One runner: takes claimed jobs one after another (until cancelled)."""
        while True:
            await self._run(await self._inbox.get())

    async def _run(self, claim: Claim) -> None:
        if claim.released:
            return
        claim.started = True
        execution = None
        try:
            if not claim.abandoned:
                execution = await self.executor.run(claim.job, claim.owner, claim.control)
        except anyio.get_cancelled_exc_class():
            self.cancelled.append(claim)
            raise
        except BaseException:  # never lose a job to a bug in a plugin hook
            log.exception(
                "job %s: the runtime failed around it; it stays for recovery", claim.job.id
            )
            raise
        finally:
            self.running.discard(claim)
            self.freed.wake()
            if not self.running:
                self._idle.set()
        if execution is not None:
            self.typical += (execution.duration - self.typical) * 0.2
            if not claim.abandoned:
                self.writer.add(to_pending(execution, claim.owner), urgent=claim.job.holds_slots)

    def abandon(self, old_owner: str) -> None:
        """Stop the attempts claimed under ``old_owner``: other processes run those jobs now."""
        stale = [c for c in self.running if c.owner == old_owner]
        for claim in stale:
            claim.control.abandon()
        if stale:
            log.warning(
                "stopping %d attempts claimed under %s (jobs %s): other processes run them now",
                len(stale),
                old_owner,
                some_ids(sorted(c.job.id for c in stale)),
            )

    def cancel(self, ids: list[int]) -> None:
        """Stop the attempts of jobs someone asked to cancel (see :class:`AttemptControl`)."""
        wanted = set(ids)
        stopped = [c for c in self.running if c.job.id in wanted and not c.control.cancelled]
        for claim in stopped:
            claim.control.cancel()
        if stopped:
            log.info("cancelling jobs %s on request", some_ids(sorted(c.job.id for c in stopped)))

    async def wait_idle(self) -> None:
        """Return once no claimed job is waiting or running."""
        if self.running:
            self._idle = anyio.Event()
            await self._idle.wait()

    def to_requeue(self) -> dict[str, list[int]]:
        """After the slots were cancelled: the jobs to put back to queued, by owner
        (cancelled attempts and claims no slot had started; abandoned ones are others' now)."""
        by_owner: dict[str, list[int]] = {}
        for claim in [*self.cancelled, *self.running]:
            if not claim.abandoned:
                by_owner.setdefault(claim.owner, []).append(claim.job.id)
        return by_owner
