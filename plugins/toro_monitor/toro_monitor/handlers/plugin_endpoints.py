"""Plain endpoints that plugins add through the ``monitor_endpoints`` hook: a GET route per
endpoint, whose body the endpoint's ``render(conn=...)`` returns (toro-metrics' ``/metrics``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from litestar import Response, get

from toro_monitor.context import Monitor, MonitorDep
from toro_monitor.view import MonitorEndpoint


def collect(monitor: Monitor, reserved: Iterable[str]) -> list[MonitorEndpoint]:
    """Every plugin's endpoints, the first registered plugin's first; a path under one of the
    ``reserved`` paths (the monitor's own), or that a page or another endpoint has, is a
    ``ValueError`` naming it."""
    found: list[MonitorEndpoint] = []
    for result in reversed(monitor.toro.plugin_manager.hook.monitor_endpoints()):
        found.extend(result or ())
    own = [r for r in reserved if r != "/"]
    taken = {page.path.rstrip("/") for page in monitor.pages if page.path}
    for endpoint in found:
        path = endpoint.path.rstrip("/")
        under_own = any(path == r or path.startswith(r + "/") for r in own)
        if not endpoint.path.startswith("/") or not path or under_own or path in taken:
            raise ValueError(f"monitor endpoint {endpoint.path!r} is taken or invalid")
        taken.add(path)
    return found


def endpoint_handler(endpoint: MonitorEndpoint, number: int) -> Any:
    """The route handler of ``endpoint`` (the ``number``-th, for its route name)."""

    async def serve(monitor: MonitorDep) -> Response[str]:
        async with monitor.store.connection() as conn:
            body = await endpoint.render(conn=conn)
        return Response(content=body, media_type=endpoint.media_type)

    return get(endpoint.path, name=f"endpoint-{number}")(serve)


def handlers(monitor: Monitor, reserved: Iterable[str]) -> list[Any]:
    return [endpoint_handler(e, n) for n, e in enumerate(collect(monitor, reserved))]
