"""Routes of the plain endpoints plugins add through the ``monitor_endpoints`` hook."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Response, get

from toro_monitor.view import MonitorEndpoint
from toro_monitor.views import RESERVED

if TYPE_CHECKING:
    from toro_monitor.app import Monitor


def collect(monitor: Monitor) -> list[MonitorEndpoint]:
    """Every plugin's endpoints, the first registered plugin's first; a path that a page or
    another endpoint has is a ``ValueError`` naming it."""
    found: list[MonitorEndpoint] = []
    for result in reversed(monitor.toro.plugin_manager.hook.monitor_endpoints()):
        found.extend(result or ())
    taken = {page.path.rstrip("/") for page in monitor.pages if page.path}
    for endpoint in found:
        path = endpoint.path.rstrip("/")
        reserved = any(path == r or path.startswith(r + "/") for r in RESERVED if r != "/")
        if not endpoint.path.startswith("/") or not path or reserved or path in taken:
            raise ValueError(f"monitor endpoint {endpoint.path!r} is taken or invalid")
        taken.add(path)
    return found


def handlers(monitor: Monitor) -> list[Any]:
    """A GET route per endpoint."""

    def handler(endpoint: MonitorEndpoint, number: int) -> Any:
        async def serve() -> Response[str]:
            async with monitor.store.connection() as conn:
                body = await endpoint.render(conn=conn)
            return Response(content=body, media_type=endpoint.media_type)

        return get(endpoint.path, name=f"endpoint-{number}")(serve)

    return [handler(endpoint, n) for n, endpoint in enumerate(collect(monitor))]
