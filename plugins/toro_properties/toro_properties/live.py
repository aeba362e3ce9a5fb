"""Properties set while a job runs, written at once (progress the monitor can show live).

::

    from toro_properties import set_properties, aset_properties

    class Import(Worker):
        def perform(self, path):              # sync perform: runs in a worker thread
            for done, row in enumerate(rows(path), 1):
                ...
                if done % 1000 == 0:
                    set_properties(progress=done / total)

    class Crawl(Worker):
        async def perform(self, url):
            await aset_properties(stage="fetching", url=url)

Each call is one short ``UPDATE`` that merges the values into the job's ``properties``, fenced
so that a process which no longer holds the job cannot write. The values are also kept for the
job's final write, so the last value set survives a database hiccup. A value that is not JSON
(or that an index cannot cast) is not stored: it is logged and recorded under
``properties:rejected`` on the job, and the call returns ``False``; it never fails the job.

The job is the kernel's current attempt (``toro_core.plugin.current_execution``: a context
variable the worker sets around every attempt, seen in a sync ``perform``'s thread too); the
plugin's view of it (:class:`RunningJob`) is made on the first call and kept in the attempt's
``execution.state``, so an attempt that never calls the API costs the plugin nothing. The write
goes through the kernel's fenced operation (``CoreStore.set_running_properties``) on the worker
process's pool, which the attempt carries (``execution.process``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel

from toro_core import StatementError
from toro_core.plugin import (
    TRANSIENT,
    CoreStore,
    aconnect,
    app_of,
    current_execution,
    dumps,
    printable,
)
from toro_properties.checks import REJECTED_KEY, check_properties

if TYPE_CHECKING:
    from toro_core import Execution
    from toro_properties.indexes import PropertyIndex

log = logging.getLogger("toro.properties")


#: The key of the plugin's state in a worker process's ``context.state``.
STATE_KEY = "properties"


@dataclasses.dataclass(slots=True, eq=False)
class ProcessState:
    """What the plugin keeps per worker process (``context.state["properties"]``): the known
    property indexes, refreshed by the plugin's service."""

    indexes: tuple[PropertyIndex, ...] = ()
    #: Set once the first index listing was attempted.
    ready: anyio.Event = dataclasses.field(default_factory=anyio.Event)
    #: Whether an attempt has waited for ``ready`` already (later ones need not look).
    started: bool = False


@dataclasses.dataclass(slots=True, eq=False)
class RunningJob:
    """One attempt as the properties API sees it (set by the middleware, read by the API)."""

    execution: Execution
    process: ProcessState | None
    database_url: str
    #: The event loop the attempt runs on (``None``: made in a thread with no worker process,
    #: where a sync ``set_properties`` cannot reach the loop).
    token: anyio.lowlevel.EventLoopToken | None
    loop_thread: int
    rejected: dict[str, str] = dataclasses.field(default_factory=dict)
    #: Set when the attempt ended: a thread left running after a timeout can no longer write.
    closed: bool = False

    @classmethod
    def of(cls, execution: Execution) -> RunningJob:
        """The plugin's view of ``execution``, with what its writes need."""
        context = execution.process
        if context is not None:
            return cls(
                execution=execution,
                process=context.state.get(STATE_KEY),
                database_url="",
                token=context.token,
                loop_thread=context.loop_thread,
            )
        # not run by a worker process (a test calling the executor): connect for writes
        worker = execution.worker
        database_url = app_of(type(worker)).database_url if worker is not None else ""
        try:
            token: anyio.lowlevel.EventLoopToken | None = anyio.lowlevel.current_token()
            loop_thread = threading.get_ident()
        except RuntimeError:  # in a job thread: no loop to reach from here
            token, loop_thread = None, 0
        return cls(
            execution=execution,
            process=None,
            database_url=database_url,
            token=token,
            loop_thread=loop_thread,
        )

    @property
    def indexes(self) -> tuple[PropertyIndex, ...]:
        return self.process.indexes if self.process else ()

    async def indexes_known(self) -> None:
        """Wait (up to a few seconds, once per process) for the process's first listing of the
        property indexes, so that values an index could not cast are refused."""
        process = self.process
        if process is not None and not process.started:
            with anyio.move_on_after(_STARTUP_WAIT):
                await process.ready.wait()
            process.started = True

    def reject(self, rejected: Mapping[str, str]) -> None:
        """Log ``rejected`` and record it on the job under ``properties:rejected``."""
        if not rejected:
            return
        for reason in rejected.values():
            log.error("job %s: property not stored: %s", self.execution.job.id, printable(reason))
        self.rejected.update(rejected)
        self.execution.properties[REJECTED_KEY] = dict(self.rejected)

    @contextlib.asynccontextmanager
    async def store(self) -> AsyncIterator[CoreStore]:
        """The kernel's store on the worker's pool, or on a short-lived connection outside a
        worker process."""
        if self.execution.process is not None:
            yield self.execution.process.store
            return
        async with await aconnect(self.database_url) as conn:
            yield CoreStore(connection=conn)


#: Kept in ``execution.state`` once an attempt ended without the API having been used.
ENDED = "ended"
_STARTUP_WAIT = 5.0
_warned_outside = False


def running_job(execution: Execution) -> RunningJob | None:
    """The attempt's :class:`RunningJob`, made on first use; ``None`` once the attempt ended."""
    state = execution.state
    found = state.get(STATE_KEY)
    if found is None:
        found = state.setdefault(STATE_KEY, RunningJob.of(execution))
    return found if isinstance(found, RunningJob) else None


def _gather(
    properties: Mapping[str, Any] | None, more: Mapping[str, Any], who: str
) -> dict[str, Any]:
    if properties is not None and not isinstance(properties, Mapping):
        raise TypeError(
            f"{who}() takes a mapping and/or keyword arguments, got {type(properties).__name__}"
        )
    return {**(properties or {}), **more}


def _running(who: str) -> RunningJob | None:
    global _warned_outside
    execution = current_execution()
    if execution is None:
        if not _warned_outside:
            _warned_outside = True
            log.warning(
                "%s() called outside a job run by a toro worker with the 'properties' plugin; "
                "nothing is stored (is the plugin left out by TORO_PLUGINS?)",
                who,
            )
        return None
    job = running_job(execution)
    if job is None:
        log.warning("job %s: %s() called after the attempt ended; ignored", execution.job.id, who)
    return job


async def write_now(job: RunningJob, properties: Mapping[str, Any], source: str) -> bool:
    """Check ``properties``, merge the good ones into the job's row at once; see the module."""
    if job.closed:
        log.warning(
            "job %s: %s() called after the attempt ended; ignored", job.execution.job.id, source
        )
        return False
    await job.indexes_known()
    checked = check_properties(properties, job.indexes, source=source)
    job.reject(checked.rejected)
    patch = dict(checked.good)
    if checked.rejected:
        patch[REJECTED_KEY] = dict(job.rejected)
    if not patch:
        return False
    job.execution.properties.update(patch)
    attempt = job.execution.job
    try:
        async with job.store() as store:
            written = await store.set_running_properties(
                job_id=attempt.id,
                attempt=attempt.attempt,
                holder=job.execution.holder,
                patch=dumps(patch),
            )
    except TRANSIENT as exc:
        log.warning(
            "job %s: live properties not written now (%s); they are stored with the job's outcome",
            attempt.id,
            exc,
        )
        return False
    except StatementError as exc:  # the database refused the values (a constraint, a cast)
        reason = str(exc)
        for key in checked.good:
            job.execution.properties.pop(key, None)
        job.reject(
            {key: f"{source}[{key!r}]: the database refused it: {reason}" for key in checked.good}
        )
        return False
    if not written:
        log.warning(
            "job %s: live properties refused: this process no longer holds the job "
            "(it was recovered after a missed heartbeat)",
            attempt.id,
        )
    return written and not checked.rejected


def set_properties(properties: Mapping[str, Any] | None = None, /, **more: Any) -> bool:
    """Store properties on the running job now, from a sync ``perform``.

    Pass keyword arguments (``set_properties(progress=0.5)``), a mapping for names that are not
    identifiers (``set_properties({"stage:name": "fetch"})``), or both. Returns ``True`` when
    every value was written to the job's row now; ``False`` when one was rejected (see
    ``properties:rejected``), the write must wait for the job's outcome (database unreachable),
    the job is no longer held by this process, or no job is running in this context.
    In an ``async def perform`` use :func:`aset_properties` instead.
    """
    values = _gather(properties, more, "set_properties")
    job = _running("set_properties")
    if job is None:
        return False
    if job.token is None:
        log.warning(
            "job %s: set_properties() from a thread needs a worker process; use "
            "job_properties in the return value",
            job.execution.job.id,
        )
        return False
    if threading.get_ident() == job.loop_thread:
        raise RuntimeError(
            "set_properties() would block the event loop: in an async perform use "
            "`await aset_properties(...)`"
        )
    try:
        return anyio.from_thread.run(write_now, job, values, "set_properties", token=job.token)
    except RuntimeError as exc:  # the worker's event loop is gone (the process is stopping)
        log.warning("job %s: set_properties() could not run: %s", job.execution.job.id, exc)
        return False


async def aset_properties(properties: Mapping[str, Any] | None = None, /, **more: Any) -> bool:
    """The awaitable twin of :func:`set_properties`, for an ``async def perform``."""
    values = _gather(properties, more, "aset_properties")
    job = _running("aset_properties")
    if job is None:
        return False
    return await write_now(job, values, "aset_properties")


class WithProperties:
    """Mixin giving a worker ``self.set_properties(...)`` and ``await self.aset_properties(...)``.

    ::

        class Import(WithProperties, Worker):
            def perform(self, path):
                self.set_properties(progress=0.5)
    """

    def set_properties(self, properties: Mapping[str, Any] | None = None, /, **more: Any) -> bool:
        """See :func:`toro_properties.set_properties`."""
        return set_properties(properties, **more)

    async def aset_properties(
        self, properties: Mapping[str, Any] | None = None, /, **more: Any
    ) -> bool:
        """See :func:`toro_properties.aset_properties`."""
        return await aset_properties(properties, **more)
