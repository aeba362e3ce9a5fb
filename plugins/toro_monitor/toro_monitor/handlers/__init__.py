"""The monitor's request handlers, one module per page group.

Each module of :data:`GROUPS` holds ``HANDLERS``, its route handlers: plain Litestar handlers
that receive the :class:`~toro_monitor.context.Monitor` as the ``monitor`` dependency and
render with :mod:`toro_monitor.context`. Plugin pages (``monitor_views`` with
``kind="page"``) get a handler each from :mod:`.plugin_pages`, plain endpoints
(``monitor_endpoints``) from :mod:`.plugin_endpoints`.

A request from htmx (``HX-Request``, not a history restore) gets the partial the page polls or
swaps; any other request gets the whole page, so every URL can be shared and opened directly.
"""

from __future__ import annotations

from typing import Any

from toro_monitor.context import Monitor
from toro_monitor.handlers import (
    histograms,
    job,
    jobs,
    plugin_endpoints,
    plugin_pages,
    processes,
    static,
)

#: The monitor's own page groups, in the order their routes are registered.
GROUPS = (jobs, job, histograms, processes, static)


def own_handlers() -> list[Any]:
    """The route handlers of the monitor's own pages, files and actions."""
    return [handler for group in GROUPS for handler in group.HANDLERS]


def reserved_paths() -> set[str]:
    """The first path segments the monitor's own routes use (``/jobs``, ``/static``...): no
    plugin page may take them."""
    return {
        "/" + path.strip("/").split("/")[0] for handler in own_handlers() for path in handler.paths
    }


def route_handlers(monitor: Monitor) -> list[Any]:
    """Every route of ``monitor``: its own, then one per plugin page and plugin endpoint."""
    return [
        *own_handlers(),
        *plugin_pages.handlers(monitor.pages),
        *plugin_endpoints.handlers(monitor, reserved_paths()),
    ]
