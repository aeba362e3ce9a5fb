"""Properties a job returns, stored when its attempt ends (the ``job_finished`` hook).

When ``perform`` returns a mapping with a ``job_properties`` key holding a mapping, the storable
properties are merged into ``execution.properties`` (which the kernel merges into the row with
``||`` when it writes the outcome) and the others are reported under ``properties:rejected``.
The key is taken out of ``execution.result``, so the job's stored result is the rest of the
mapping (nothing when ``job_properties`` was its only key): properties are not stored twice.
Nothing here can turn a finished job into a failed or re-run one: every problem is reported on
the job instead.

The same hook closes the attempt for the live API: a thread left running after a timeout can
no longer write. An attempt that neither returned ``job_properties`` nor called the live API
costs a dictionary lookup or two.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from toro_properties.checks import check_properties
from toro_properties.live import ENDED, STATE_KEY, RunningJob

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from toro_core import Execution

log = logging.getLogger("toro.properties")

#: The key of ``perform``'s returned mapping whose value is stored as job properties.
RETURN_KEY = "job_properties"


def finish(execution: Execution) -> Awaitable[None] | None:
    """End the attempt for the plugin (see the module); a coroutine to await only when the
    returned properties must wait for the process's first listing of the property indexes."""
    state = execution.state
    found = state.setdefault(STATE_KEY, ENDED)
    result = execution.result
    # most attempts return None: no abstract-class check for them
    if result is None or not isinstance(result, Mapping) or RETURN_KEY not in result:
        if isinstance(found, RunningJob):
            found.closed = True
        return None
    job = found if isinstance(found, RunningJob) else RunningJob.of(execution)
    state[STATE_KEY] = job
    process = job.process
    if process is not None and not process.started:
        return _finish_later(job)
    _merge_safely(job)
    return None


async def _finish_later(job: RunningJob) -> None:
    await job.indexes_known()
    _merge_safely(job)


def _merge_safely(job: RunningJob) -> None:
    try:
        merge_returned(job)
    except Exception as exc:  # a broken mapping must not fail a finished job
        log.exception("job %s: could not read %s", job.execution.job.id, RETURN_KEY)
        job.reject({RETURN_KEY: f"could not read {RETURN_KEY}: {type(exc).__name__}: {exc}"})
    finally:
        job.closed = True


def merge_returned(job: RunningJob) -> None:
    """Store the ``job_properties`` of ``perform``'s result (a mapping holding that key, as
    :func:`finish` checked) on the job, and take the key out of the result: the rest of the
    mapping, if any, is the job's result."""
    result = job.execution.result
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
