"""The ``around_job`` middleware: makes the live API work and stores returned properties.

Around each attempt it publishes the job to :mod:`toro_properties.live` (a context variable),
with the plugin's state of the worker process found on the attempt (``execution.process``),
and after ``perform`` returned it reads ``execution.result``: when that is a mapping with a
``job_properties`` key holding a mapping, the storable properties are merged into
``execution.properties`` (which the kernel merges into the row with ``||`` when it writes the
outcome) and the others are reported under ``properties:rejected``. The key is taken out of
``execution.result``, so the job's stored result is the rest of the mapping (nothing when
``job_properties`` was its only key): properties are not stored twice. Nothing here can turn a
finished job into a failed or re-run one: every problem is reported on the job instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

import anyio
import anyio.lowlevel

from toro_core import Execution
from toro_core.plugin import app_of
from toro_properties.checks import check_properties
from toro_properties.live import STATE_KEY, ProcessState, RunningJob, current

log = logging.getLogger("toro.properties")

#: The key of ``perform``'s returned mapping whose value is stored as job properties.
RETURN_KEY = "job_properties"
_STARTUP_WAIT = 5.0


def merge_returned(job: RunningJob) -> None:
    """Store the ``job_properties`` of ``perform``'s result on the job (see the module), and
    take the key out of the result: the rest of the mapping, if any, is the job's result."""
    result = job.execution.result
    if not isinstance(result, Mapping) or RETURN_KEY not in result:
        return
    returned = result[RETURN_KEY]
    rest = {key: value for key, value in result.items() if key != RETURN_KEY}
    job.execution.result = rest or None
    if returned is None:
        return
    if not isinstance(returned, Mapping):
        job.reject({RETURN_KEY: f"{RETURN_KEY} is a {type(returned).__name__}, not a mapping"})
        return
    checked = check_properties(returned, job.indexes, source=RETURN_KEY)
    job.execution.properties.update(checked.good)
    job.reject(checked.rejected)


class Tracker:
    """The middleware for one attempt (an async context manager).

    A class rather than a generator-based manager: it runs around every attempt of every job,
    and the generator machinery cost more than everything it does. The event loop's token and
    thread are the same for every attempt of a worker process, so they are read once per
    process (:meth:`ProcessState.loop`).
    """

    __slots__ = ("execution", "job", "reset")

    def __init__(self, execution: Execution) -> None:
        self.execution = execution

    async def __aenter__(self) -> None:
        execution = self.execution
        context = execution.process
        process: ProcessState | None = None
        if context is not None:
            process = context.state.get(STATE_KEY)
        if process is not None and not process.started:
            with anyio.move_on_after(_STARTUP_WAIT):  # the first index listing, at process start
                await process.ready.wait()
            process.started = True
        database_url = ""
        if context is None and execution.worker is not None:
            # not run by a worker process (a test calling the executor, say): connect for writes
            database_url = app_of(type(execution.worker)).database_url
        token, loop_thread = (
            process.loop()
            if process is not None
            else (anyio.lowlevel.current_token(), threading.get_ident())
        )
        self.job = RunningJob(
            execution=execution,
            process=process,
            database_url=database_url,
            token=token,
            loop_thread=loop_thread,
        )
        self.reset = current.set(self.job)

    async def __aexit__(self, kind: object, error: object, traceback: object) -> None:
        job = self.job
        try:
            if kind is None:
                try:
                    merge_returned(job)
                except Exception as exc:  # a broken mapping must not fail a finished job
                    log.exception("job %s: could not read %s", job.execution.job.id, RETURN_KEY)
                    job.reject(
                        {RETURN_KEY: f"could not read {RETURN_KEY}: {type(exc).__name__}: {exc}"}
                    )
        finally:
            job.closed = True
            current.reset(self.reset)
