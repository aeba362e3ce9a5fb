"""Waiting for a job's outcome: ``app.wait(job_id)`` and ``await app.await_result(job_id)``.

How a wait works, on one connection of its own (LISTEN is session state):

1. ``LISTEN toro_finished_<id>``;
2. mark the job awaited (``awaited_at``, statement ``await_job``) unless it is final already.
   The mark and an outcome write lock the same row, so either the write sees the mark and
   sends ``NOTIFY toro_finished_<id>`` when it commits, or the mark sees the final status;
3. sleep until a notification (or, as a backstop, :data:`BACKSTOP` seconds: a job cancelled
   by recovery sends none), read the row, and stop once its status is final.

Outcome writes pay for this only for awaited rows: the statement checks ``awaited_at`` of the
rows it already updates and notifies none of the others. A job nobody waits for costs nothing.

LISTEN goes where the app's :attr:`~toro_core.connections.Connections.listen` says (the
database URL, or the direct listen URL behind PgBouncer in transaction mode). When nothing can
listen (transaction pooling and no listen URL), a wait reads the row through the app's pool
every :data:`~toro_core.connections.WAIT_POLL` seconds instead.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import anyio

from toro_core.connections import WAIT_POLL
from toro_core.errors import JobCancelled, JobFailed, JobWaitTimeout
from toro_core.store import CoreStore, CoreSyncStore, aconnect, connect, translated

if TYPE_CHECKING:
    from toro_core.app import Toro
    from toro_core.job import Job

#: Seconds between two reads of the row when no notification arrives (a backstop: outcomes
#: written by recovery, or a notification lost with a broken connection).
BACKSTOP = 5.0


def channel(job_id: int) -> str:
    """The channel an awaited job's outcome is announced on."""
    return f"toro_finished_{job_id}"


def wait(app: Toro, job_id: int, timeout: float | None) -> Any:
    """See :meth:`toro_core.app.Toro.wait`."""
    deadline = _deadline(job_id, timeout)
    final = _final(app)
    url = app.connections.listen
    if url is None:
        store = app.client.store()
        job = _found(job_id, store.get_job(job_id))
        while job.status not in final:
            time.sleep(min(_pause(job, deadline, timeout), WAIT_POLL))
            job = _found(job_id, store.get_job(job_id))
        return outcome(job)
    conn = connect(url)
    with translated(url), conn:
        conn.execute(f"LISTEN {channel(job_id)}")
        store = CoreSyncStore(connection=conn)
        job = _found(job_id, store.await_job(job_id, final) or store.get_job(job_id))
        while job.status not in final:
            pause = _pause(job, deadline, timeout)
            for _ in conn.notifies(timeout=pause, stop_after=1):
                pass
            job = _found(job_id, store.get_job(job_id))
    return outcome(job)


async def await_result(app: Toro, job_id: int, timeout: float | None) -> Any:
    """See :meth:`toro_core.app.Toro.await_result`."""
    deadline = _deadline(job_id, timeout)
    final = _final(app)
    url = app.connections.listen
    if url is None:
        polled = await app.aclient.store()
        job = _found(job_id, await polled.get_job(job_id))
        while job.status not in final:
            await anyio.sleep(min(_pause(job, deadline, timeout), WAIT_POLL))
            job = _found(job_id, await polled.get_job(job_id))
        return outcome(job)
    conn = await aconnect(url)
    with translated(url):
        async with conn:
            await conn.execute(f"LISTEN {channel(job_id)}")
            store = CoreStore(connection=conn)
            job = _found(
                job_id, await store.await_job(job_id, final) or await store.get_job(job_id)
            )
            while job.status not in final:
                pause = _pause(job, deadline, timeout)
                async for _ in conn.notifies(timeout=pause, stop_after=1):
                    pass
                job = _found(job_id, await store.get_job(job_id))
    return outcome(job)


def outcome(job: Job) -> Any:
    """The result of a finished job; its error as an exception when it did not complete."""
    if job.status == "complete":
        return job.result
    if job.status == "cancelled":
        error = JobCancelled(f"job {job.id} ({job.class_name}) was cancelled")
        error.job = job
        raise error
    raise JobFailed(job)


def _deadline(job_id: Any, timeout: float | None) -> float | None:
    if not isinstance(job_id, int) or isinstance(job_id, bool):
        raise TypeError(f"job_id must be a job's id (an int), not {job_id!r}")
    if timeout is None:
        return None
    if (
        not isinstance(timeout, (int, float))
        or isinstance(timeout, bool)
        or not 0 <= timeout < float("inf")
    ):
        raise ValueError(
            f"timeout must be 0 or more seconds (or None for no limit), not {timeout!r}"
        )
    return time.monotonic() + timeout


def _final(app: Toro) -> Sequence[str]:
    return [status.name for status in app.statuses if status.final]


def _found(job_id: int, job: Job | None) -> Job:
    if job is None:
        raise LookupError(f"no job {job_id} (never enqueued, or deleted since)")
    return job


def _pause(job: Job, deadline: float | None, timeout: float | None) -> float:
    """Seconds to sleep before reading the row again; raises once the deadline passed."""
    if deadline is None:
        return BACKSTOP
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise JobWaitTimeout(
            f"job {job.id} ({job.class_name}) is still {job.status} after {timeout:g} s", job
        )
    return min(remaining, BACKSTOP)
