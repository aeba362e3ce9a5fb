"""Hook implementations of toro-retry (entry point ``retry`` in group ``toro``).

* ``worker_options`` declares the retry options, so the kernel accepts them only while this
  plugin is loaded (blocked by ``TORO_PLUGINS``/``TORO_DISABLE_PLUGINS``, they are unknown).
* ``around_job`` records each failure and reschedules the job (:mod:`toro_retry.middleware`).
* ``monitor_views`` adds a "Retries" section to a job's detail in toro-monitor.
* ``worker_services`` checks at worker start that the ``scheduled`` status, which retried
  jobs wait in, is registered (it comes from toro-scheduler), and says so loudly if not.

No status of its own: see the README ("Why no 'retrying' status").
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from toro_core import Execution, MonitorView, Worker, hookimpl
from toro_retry.middleware import WAITING_STATUS, middleware
from toro_retry.monitor import VIEW
from toro_retry.options import OPTIONS, policy_for

if TYPE_CHECKING:
    from toro_core.runtime.context import ServiceContext

log = logging.getLogger("toro.retry")


@hookimpl
def worker_options() -> dict[str, str]:
    return dict(OPTIONS)


@hookimpl
def check_worker(worker_class: type[Worker]) -> None:
    """Refuse bad retry option values at the first enqueue, before anything is written."""
    policy_for(worker_class)


@hookimpl
def around_job(execution: Execution) -> AbstractAsyncContextManager[None] | None:
    return middleware(execution)


@hookimpl
def worker_services(context: ServiceContext) -> Iterable[Any]:
    if WAITING_STATUS not in context.app.statuses:
        log.error(
            "toro-retry: status %r is not registered in this worker (is the 'scheduler' plugin "
            "left out by TORO_PLUGINS or TORO_DISABLE_PLUGINS?); jobs that should be retried "
            "will fail instead",
            WAITING_STATUS,
        )
    return ()


@hookimpl
def monitor_views() -> list[MonitorView]:
    return [VIEW]
