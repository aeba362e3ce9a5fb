"""Writing finished attempts back in batches, fenced, surviving database outages.

Outcomes wait in memory until ``flush_interval`` seconds after the previous write (so an idle
process writes a lone outcome at once) or until ``flush_size`` of them are ready, then one
transaction writes them all (:meth:`CoreStore.finish`), each with perform's return value. A
write is accepted only for jobs still running under the same holder and attempt; refused ids
are logged and dropped (another process recovered those jobs and runs them). When the
database is away the batch is kept and retried with backoff; claiming stops while more than
``max_pending_outcomes`` are held, so memory stays bounded.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio

from toro_core.encoding import check_json, dumps, may_break_limits
from toro_core.errors import StatementError
from toro_core.outcome import WrittenOutcome
from toro_core.printable import printable
from toro_core.runtime.retry import TRANSIENT, Retry
from toro_core.store import PendingOutcome

if TYPE_CHECKING:
    from toro_core.app import Toro
    from toro_core.outcome import Execution
    from toro_core.runtime.context import ProcessContext
    from toro_core.store import CoreStore

log = logging.getLogger("toro.outcomes")

__all__ = ["OutcomeWriter", "PendingOutcome", "to_pending", "written_observer"]


#: The property that says why perform's return value was not stored.
RESULT_REJECTED = "result:rejected"


def encode_result(execution: Execution) -> str | None:
    """The JSON text of what perform returned, ``None`` when it returned ``None``. A value JSON
    cannot hold is not stored: the reason goes to ``properties["result:rejected"]`` and the
    job's outcome is unchanged."""
    result = execution.result
    if result is None:
        return None
    try:
        return dumps(result)
    except (TypeError, ValueError):
        problem = check_json(result, path="the return value") or "the return value is not JSON"
    execution.properties[RESULT_REJECTED] = problem
    log.error("job %s: result not stored: %s", execution.job.id, problem)
    return None


def to_pending(execution: Execution, owner: str) -> PendingOutcome:
    """Freeze an execution into what the store writes; a non-JSON property or result is
    reported on the job instead of stored."""
    outcome = execution.outcome
    assert outcome is not None, "the executor decides every outcome"
    result = None if execution.result is None else encode_result(execution)
    properties = execution.properties
    try:
        patch = dumps(properties) if properties else "{}"
    except (TypeError, ValueError, RecursionError):
        patch = None
    if patch is None or (may_break_limits(patch) and _limits_broken(properties)):
        clean: dict[str, Any] = {}
        rejected: dict[str, str] = {}
        for key, value in properties.items():
            problem = check_json(value, path=f"property {key!r}")
            if problem is None and isinstance(key, str):
                clean[key] = value
            else:
                rejected[str(key)] = problem or f"property key {key!r} is not a string"
        clean["properties:rejected"] = rejected
        log.error(
            "job %s: properties not stored: %s",
            execution.job.id,
            printable("; ".join(rejected.values())),
        )
        patch = dumps(clean)
    return PendingOutcome(
        id=execution.job.id,
        attempt=execution.job.attempt,
        owner=owner,
        status=outcome.status,
        duration=execution.duration,
        scheduled_at=outcome.scheduled_at,
        patch=patch,
        result=result,
        job=execution.job,
    )


def _limits_broken(properties: dict[str, Any]) -> bool:
    """Whether a property value nests too deep or holds too long an integer."""
    return any(check_json(value, path="") for value in properties.values())


def written_observer(
    app: Toro, context: ProcessContext
) -> Callable[[list[PendingOutcome]], None] | None:
    """What hands each batch of written outcomes to the ``outcomes_written`` hook; ``None`` (no
    call at all, not even a list built) when no plugin implements it."""
    if not app.has("outcomes_written"):
        return None

    def observe(stored: list[PendingOutcome]) -> None:
        app.outcomes_written(
            context,
            [WrittenOutcome(o.job, o.status, o.duration) for o in stored if o.job is not None],
        )

    return observe


def some_ids(ids: list[int], shown: int = 20) -> str:
    """A list of job ids for a log line, cut after ``shown``."""
    text = ", ".join(str(i) for i in ids[:shown])
    return text + (f" and {len(ids) - shown} more" if len(ids) > shown else "")


class OutcomeWriter:
    """Buffers outcomes and writes them in batches; see the module docstring."""

    def __init__(
        self,
        store: CoreStore,
        *,
        flush_size: int,
        flush_interval: float,
        limit: int,
        on_written: Callable[[list[PendingOutcome]], None] | None = None,
    ) -> None:
        self.store = store
        #: Called with the outcomes of each batch the database accepted, as they were written.
        self.on_written = on_written
        self.flush_size = flush_size
        self.flush_interval = flush_interval
        self.limit = limit
        self._buffer: list[PendingOutcome] = []
        self._has_items = anyio.Event()
        self._full = anyio.Event()
        self._drained = anyio.Event()
        self._drained.set()
        self.written = 0
        self.refused = 0

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def pending_ids(self, owner: str) -> list[int]:
        """Ids of the jobs claimed under ``owner`` whose outcomes are not written yet."""
        return [o.id for o in self._buffer if o.owner == owner]

    @property
    def over_limit(self) -> bool:
        return len(self._buffer) >= self.limit

    def add(self, outcome: PendingOutcome, *, urgent: bool = False) -> None:
        """Buffer an outcome; ``urgent`` ones (a job holding a limit's slots, which another
        job waits for) are written at once rather than within ``flush_interval``."""
        self._buffer.append(outcome)
        if len(self._buffer) == 1:
            self._has_items.set()
            self._drained = anyio.Event()
        if urgent or len(self._buffer) >= self.flush_size:
            self._full.set()

    async def wait_drained(self) -> None:
        """Return once everything added so far has been written (or refused)."""
        await self._drained.wait()

    async def run(self) -> None:
        """Flush forever, through outages (cancel to stop).

        A batch is written ``flush_interval`` after the previous write began, or as soon as
        ``flush_size`` outcomes wait. An outcome that arrives when nothing was written for a
        whole interval (an idle process) is written at once: under load the cadence is the
        same as always waiting, and a lone job's outcome (someone may ``app.wait`` for it) is
        not held back for nothing.
        """
        retry = Retry("writing outcomes", log)
        last_write = -float("inf")
        while True:
            await self._has_items.wait()
            delay = last_write + self.flush_interval - anyio.current_time()
            if len(self._buffer) < self.flush_size and delay > 0:
                with anyio.move_on_after(delay):
                    await self._full.wait()
            last_write = anyio.current_time()
            try:
                await self.flush_once()
            except TRANSIENT as exc:
                await retry.pause(exc)
                continue
            retry.succeeded()

    async def flush_once(self) -> None:
        """Write up to ``flush_size`` outcomes of one holder in one transaction."""
        if not self._buffer:
            return
        owner = self._buffer[0].owner
        items = [o for o in self._buffer[: self.flush_size] if o.owner == owner]
        rewritten: dict[int, PendingOutcome] = {}  # written in another form than the item
        try:
            accepted = await self.store.finish(owner, items)
        except TRANSIENT:
            for item in items:
                item.tried = True
            raise
        except StatementError as exc:
            # Not an outage: the data itself was refused (a user's expression index that cannot
            # cast a property, a constraint). Find the culprits one by one so the batch's
            # other jobs are written, and never let a bad value stop the process.
            log.error(
                "writing a batch of outcomes failed (%s); writing them one by one",
                printable(exc),
            )
            accepted = set()
            for item in items:
                stored = await self._write_alone(owner, item)
                if stored is not None:
                    accepted.add(item.id)
                    rewritten[item.id] = stored
        if len(accepted) != len(items):
            accepted |= await self._written_before(
                [o for o in items if o.tried and o.id not in accepted]
            )
        self.written += len(accepted)
        if self.on_written is not None and accepted:
            self._report([rewritten.get(o.id, o) for o in items if o.id in accepted])
        if len(accepted) != len(items):
            refused = [o.id for o in items if o.id not in accepted]
            self.refused += len(refused)
            log.warning(
                "outcomes of %d jobs refused (%s): this process no longer holds them "
                "(they were recovered after a missed heartbeat)",
                len(refused),
                some_ids(refused),
            )
        taken = {id(o) for o in items}
        self._buffer = [o for o in self._buffer if id(o) not in taken]
        if not self._buffer:
            self._has_items = anyio.Event()
            self._drained.set()
        if len(self._buffer) < self.flush_size:
            self._full = anyio.Event()

    def _report(self, stored: list[PendingOutcome]) -> None:
        """Hand the accepted outcomes of a batch, as written, to :attr:`on_written`."""
        assert self.on_written is not None
        try:
            self.on_written(stored)
        except Exception:  # an observer must never stop the writing of outcomes
            log.exception("observing %d written outcomes failed", len(stored))

    async def _write_alone(self, owner: str, item: PendingOutcome) -> PendingOutcome | None:
        """Write one outcome the database refused in a batch: as it is, else without its
        properties and result (recording why), else as a plain failure. Outages propagate.
        Returns what was written (``None``: nothing, the database refused the job's outcome
        itself or another process holds it)."""
        try:
            if await self.store.finish(owner, [item]):
                return item
            return None
        except StatementError as exc:
            reason = str(exc)
        log.error(
            "job %s: the database refused its outcome (%s); storing it without its properties "
            "and result",
            item.id,
            printable(reason),
        )
        rejected: dict[str, Any] = {"properties:rejected": {"*": reason}}
        if item.result is not None:
            rejected[RESULT_REJECTED] = reason
        fallbacks = (
            dataclasses.replace(item, patch=dumps(rejected), result=None),
            dataclasses.replace(
                item,
                status="failed",
                scheduled_at=None,
                patch=dumps({"error:outcome": reason}),
                result=None,
            ),
        )
        for fallback in fallbacks:
            try:
                return fallback if await self.store.finish(owner, [fallback]) else None
            except StatementError as exc:
                log.error("job %s: outcome refused again: %s", item.id, printable(exc))
        return None  # nothing could be written: the job stays with its holder for recovery

    async def _written_before(self, items: list[PendingOutcome]) -> set[int]:
        """Of ``items`` refused on a retry, those an earlier try did write (it committed, but
        the connection broke before the answer came): the row has their attempt and status
        and no holder, which no other process's write can produce."""
        if not items:
            return set()
        found = await self.store.outcomes_written_before(items)
        if found:
            log.info(
                "outcomes of %d jobs were written by an earlier try whose answer was lost",
                len(found),
            )
        return found
