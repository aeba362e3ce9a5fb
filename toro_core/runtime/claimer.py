"""The claim loop: as many queued jobs as there are free slots, one statement per batch.

It claims whenever a slot frees, a notification arrives or the poll interval passes, highest
priority first, then oldest. Each queue is walked from a keyset cursor, the
``(-priority, id)`` of the last job this process claimed, so the dead index entries that
earlier claims left behind are not walked again; once every ``poll_interval`` (and before
sleeping) it looks from the start of each queue, for jobs that came back (recovered, retried)
and for jobs of a higher priority enqueued meanwhile.
When a claim finds fewer jobs than it asked for (the queues ran dry), the slots start them
before the next statement is sent, which keeps an idle worker's start of a new job short.
When fewer than half of what the slots take (those that run and the jobs claimed ahead) are
free while others still run, it waits a moment for more to free so that a claim takes a batch
rather than a few jobs at a time (sync jobs finish in bursts, a thread's batch at once).

While attempts are short (on average under :data:`AHEAD_BELOW`), it claims ahead: up to
:data:`AHEAD_FACTOR` times ``concurrency`` more jobs wait for a slot, claimed while the slots
still run earlier ones, so a claim's round trip overlaps their work instead of following it and
one statement claims several slots' worth (at most :data:`AHEAD_FACTOR` short jobs, under
``AHEAD_FACTOR * AHEAD_BELOW`` seconds of work, wait per slot). A job claimed ahead that no slot
started within :data:`GIVE_BACK_AFTER` seconds (the jobs in front turned out slow) goes back to
the queue, its attempt not counted, for any process to take; longer jobs get no claims ahead at
all, so none waits behind another in this process while others idle.

Every ``dead_after`` seconds, and after a claim whose answer was lost, it hands back jobs the
database says this process holds but that it does not know of.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio
import anyio.lowlevel

from toro_core.runtime.outcomes import some_ids
from toro_core.runtime.retry import TRANSIENT, Retry

if TYPE_CHECKING:
    from toro_core.job import Job
    from toro_core.runtime.outcomes import OutcomeWriter
    from toro_core.runtime.slots import Claim, Slots
    from toro_core.runtime.waker import Waker
    from toro_core.settings import WorkerSettings
    from toro_core.store import CoreStore

log = logging.getLogger("toro.worker")
#: Seconds to wait for more slots to free before claiming for fewer than half of what they take.
PATIENCE = 0.002
#: The cursor before every queued job: ranks are -priority, from -100 to 100.
START: tuple[int, int] = (-101, 0)
#: Attempts shorter than this on average (seconds) let the claimer take jobs ahead.
AHEAD_BELOW = 0.002
#: How many jobs per slot may wait claimed ahead (Celery's default prefetch is 4 per slot).
#: Measured on 2026-12-08 (no-op jobs, c=10, one process): 1 per slot claims 20 jobs a
#: statement and runs 13,700-15,800 jobs/s; 4 claims 50 and runs 20,500-23,100; 7 or 10 no more.
AHEAD_FACTOR = 4
#: Seconds a job claimed ahead may wait for a slot before it goes back to the queue.
GIVE_BACK_AFTER = 0.5


class Claimer:
    """See the module docstring; :meth:`run` until ``stopping`` is set."""

    def __init__(
        self,
        *,
        store: CoreStore,
        settings: WorkerSettings,
        slots: Slots,
        writer: OutcomeWriter,
        owner: Callable[[], str],
        waker: Waker,
        stopping: anyio.Event,
    ) -> None:
        self.store = store
        self.settings = settings
        self.slots = slots
        self.writer = writer
        self.owner = owner
        self.waker = waker
        self.stopping = stopping
        #: Jobs claimed so far.
        self.claimed = 0
        #: Jobs claimed ahead and given back unstarted (see the module docstring).
        self.given_back = 0
        self._giving_back: list[Claim] = []  # taken out of the slots, not yet given back
        #: Rounds of the loop that failed because the database could not be used.
        self.errors = 0
        self._unsure = False  # a claim failed: it may have committed without us knowing
        #: Until when (monotonic) the full claim runs without trying the plain one first.
        self._limits_until = 0.0

    async def run(self) -> None:
        settings, slots = self.settings, self.slots
        retry = Retry("claiming", log)
        after = START
        last_full_scan = 0.0
        next_check = time.monotonic() + settings.dead_after
        while not self.stopping.is_set():
            try:
                if self._unsure or time.monotonic() >= next_check:
                    await self.release_unknown()
                    next_check = time.monotonic() + settings.dead_after
                ahead = slots.typical < AHEAD_BELOW and time.monotonic() >= self._limits_until
                slots.ahead = settings.concurrency * AHEAD_FACTOR if ahead else 0
                await self.give_back_waiting()
                if slots.free <= 0 or self.writer.over_limit:
                    await self.waker.sleep(
                        GIVE_BACK_AFTER if slots.waiting else settings.poll_interval
                    )
                    continue
                # half of what the slots take (running and ahead), in one statement at most
                half = max(1, min(settings.concurrency + slots.ahead, settings.batch_size) // 2)
                if slots.free < half and slots.running:
                    await self._gather_free_slots(half)
                now = time.monotonic()
                if now - last_full_scan >= settings.poll_interval:
                    after = START
                limit = min(slots.free, settings.batch_size)
                claimed = await self._claim(limit, after)
            except TRANSIENT as exc:
                self._unsure = True
                self.errors += 1
                await retry.pause(exc, until=self.stopping)
                continue
            retry.succeeded()
            if after == START:
                last_full_scan = now
            if claimed:
                after = max(after, (-claimed[-1].priority, claimed[-1].id))
            if len(claimed) < limit:
                if claimed:
                    # The queues ran dry: let the slots start what came before the next
                    # statement goes out (a job enqueued to an idle worker starts a
                    # statement's Python earlier). With a backlog the next claim goes first,
                    # its round trip overlapping the batch's work.
                    await anyio.lowlevel.checkpoint()
                if after != START:
                    after = START  # look again from the start of each queue before sleeping
                    continue
                await self.waker.sleep(settings.poll_interval)

    async def _claim(self, limit: int, after: tuple[int, int]) -> list[Job]:
        """Claim up to ``limit`` jobs and hand them to the slots; return them in claim order.

        The plain claim (no limits' steps) is tried first; when it says a limit is in play,
        the full claim runs, and keeps running for ``poll_interval`` seconds before the plain
        one is tried again (no second round trip per claim while limited jobs are about)."""
        owner = self.owner()
        claim = functools.partial(
            self.store.claim,
            queues=self.settings.queues,
            after=after,
            limit=limit,
            owner=owner,
            started_by=self.settings.identity,
        )
        jobs = None
        if time.monotonic() >= self._limits_until:
            jobs = await claim(plain=True)
        if jobs is None:
            self._limits_until = time.monotonic() + self.settings.poll_interval
            self.slots.ahead = 0  # no job holds a limit's slot while it waits for one of ours
            limit = min(limit, self.slots.free)
            jobs = await claim(plain=False, limit=limit) if limit > 0 else []
            jobs = jobs or []
        self.slots.submit(jobs, owner)
        self.claimed += len(jobs)
        return jobs

    async def give_back_waiting(self, *, everything: bool = False) -> None:
        """Give back to the queue the jobs claimed ahead that waited for a slot longer than
        :data:`GIVE_BACK_AFTER` (claims ahead stop until attempts are short again), or every
        one still waiting (``everything``: the process stops)."""
        if self.slots.waiting:
            stale = self.slots.take_waiting(
                math.inf if everything else time.monotonic() - GIVE_BACK_AFTER
            )
            if stale:
                self.slots.typical = max(self.slots.typical, GIVE_BACK_AFTER)
                self._giving_back.extend(stale)
        # taken out of the slots first (no slot may start one while the statement runs); kept
        # here until the database took them, so a failed statement is tried again next time
        while self._giving_back:
            owner = self._giving_back[0].owner
            jobs = [claim.job for claim in self._giving_back if claim.owner == owner]
            given = await self.store.release_unstarted(owner, jobs)
            self._giving_back = [claim for claim in self._giving_back if claim.owner != owner]
            self.given_back += len(given)
            log.info(
                "%d jobs claimed ahead %s: given back to the queue (%s)",
                len(given),
                "and not started at the stop"
                if everything
                else f"waited over {GIVE_BACK_AFTER:g}s behind slower ones",
                some_ids(given),
            )

    async def release_unknown(self) -> None:
        """Requeue jobs held under this process's id that it is not running (see the module)."""
        owner = self.owner()
        known = [
            *self.slots.held_ids(owner),
            *self.writer.pending_ids(owner),
            *(c.job.id for c in self._giving_back if c.owner == owner),  # given back below
        ]
        released = await self.store.release_unknown(owner, known)
        self._unsure = False
        if released:
            log.warning(
                "jobs %s were held under this process's id but not running here (a claim whose "
                "answer was lost); they are queued again",
                some_ids(released),
            )

    async def _gather_free_slots(self, wanted: int) -> None:
        """Wait up to :data:`PATIENCE` seconds for ``wanted`` free slots (or any stop)."""
        with anyio.move_on_after(PATIENCE):
            while self.slots.free < wanted and self.slots.running and not self.stopping.is_set():
                await self.waker.sleep(PATIENCE)
