"""Hook implementations of toro-retry (entry point ``retry`` in group ``toro``).

* ``worker_options`` declares the retry options, so the kernel accepts them only while this
  plugin is loaded (blocked by ``TORO_PLUGINS``/``TORO_DISABLE_PLUGINS``, they are unknown).
* ``job_middleware`` records each failure and reschedules the job (:mod:`toro_retry.middleware`);
  decided once per worker class, so a class that does not retry pays nothing per job.
* ``monitor_views`` (a toro-monitor hook, optional) adds a "Retries" section to a job's
  detail: the monitor shows the retry history only through it.

No status of its own: see the README ("Why no 'retrying' status").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from toro_core import Execution, Worker, hookimpl
from toro_retry.middleware import middleware_for
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
def job_middleware(
    worker_class: type[Worker],
) -> Callable[[Execution], AbstractAsyncContextManager[None]] | None:
    """Retrying middleware for a class that retries; ``None`` (nothing per job) otherwise."""
    return middleware_for(worker_class)


@hookimpl(optionalhook=True)
def monitor_views() -> list[Any]:
    from toro_retry.monitor import retries_view

    return [retries_view()]
