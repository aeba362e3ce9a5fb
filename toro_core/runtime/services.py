"""Plugin services (``worker_services``): collected once, each supervised in the process."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio

from toro_core.runtime.retry import Retry

if TYPE_CHECKING:
    from toro_core.runtime.context import ProcessContext

log = logging.getLogger("toro.worker")

Service = Callable[[], Awaitable[Any]]


def collect(context: ProcessContext) -> list[Service]:
    """Every service the plugins return for this process."""
    services: list[Service] = []
    for result in context.app.plugin_manager.hook.worker_services(context=context):
        services.extend(result or ())
    return services


async def supervise(service: Service, stopping: anyio.Event) -> None:
    """Run ``service`` until it returns; restart it after a crash, with backoff (up to 30 s).

    A service that fails with ``DatabaseUnavailable`` is restarted like any other: services
    should wait out outages themselves, and this is the backstop.
    """
    name = getattr(service, "__qualname__", repr(service))
    retry = Retry(f"service {name}", log, cap=30)
    while not stopping.is_set():
        try:
            await service()
            return
        except Exception as exc:
            log.exception("service %s failed", name)
            await retry.pause(exc, until=stopping)
