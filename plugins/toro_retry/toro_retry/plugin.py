"""Hook implementations of toro-retry (entry point ``retry`` in group ``toro``).

* ``worker_options`` declares the retry options, so the kernel accepts them only while this
  plugin is loaded (blocked by ``TORO_PLUGINS``/``TORO_DISABLE_PLUGINS``, they are unknown).
* ``job_failed`` records each failure and reschedules the job (:mod:`toro_retry.failures`):
  called only when ``perform`` raised, so an attempt that succeeds pays nothing for it;
  ``job_finished`` clears an old give-up reason once the job succeeds (a dictionary lookup).
* ``monitor_views`` (a toro-monitor hook, optional) adds a "Retries" section to a job's
  detail: the monitor shows the retry history only through it.

No status of its own: see the README ("Why no 'retrying' status").
"""

from __future__ import annotations

import logging
from typing import Any

from toro_core import Execution, Worker, hookimpl
from toro_retry.failures import on_failure, on_finished
from toro_retry.options import OPTIONS, policy_for

log = logging.getLogger("toro.retry")


@hookimpl
def worker_options() -> dict[str, str]:
    return dict(OPTIONS)


@hookimpl
def check_worker(worker_class: type[Worker]) -> None:
    """Refuse bad retry option values at the first enqueue, before anything is written."""
    policy_for(worker_class)


@hookimpl
async def job_failed(execution: Execution, error: Exception) -> None:
    """Record the failure; reschedule the job unless that was its last try."""
    await on_failure(execution, error)


@hookimpl
def job_finished(execution: Execution) -> None:
    on_finished(execution)


@hookimpl(optionalhook=True)
def monitor_views() -> list[Any]:
    from toro_retry.monitor import retries_view

    return [retries_view()]
