"""The monitor's request handlers, one module per page group.

Each module of :data:`GROUPS` holds ``HANDLERS``, its route handlers: plain Litestar handlers
that receive the :class:`~toro_monitor.context.Monitor` as the ``monitor`` dependency and
render with :mod:`toro_monitor.context`. Plugin pages (``monitor_views`` with
``kind="page"``) get a handler each from :mod:`.plugin_pages`, plain endpoints
(``monitor_endpoints``) from :mod:`.plugin_endpoints`.

A request from htmx (``HX-Request``, not a history restore) gets the partial the page polls or
swaps; any other request gets the whole page, so every URL can be shared and opened directly.

Adding a page group (say an Overview): a module here with its handlers (``monitor:
MonitorDep`` gives the monitor; build the context with ``page_context`` and answer with
``render(request, "overview.html", "_overview.html", ctx)``) and ``HANDLERS = [...]``; add
the module to :data:`GROUPS` and its page to ``context.NAVIGATION``; its templates go in
``templates/toro_monitor/`` (the page extends ``base.html`` and includes the partial, whose
root element polls itself with ``hx-trigger="{{ poll }}"``). Its path is then reserved from
plugin pages. An action is a ``@post`` handler in its group's module: auth, the CSRF token and
the Origin check apply to every POST, and the security headers to every answer, without
anything in the handler; answer htmx with ``fragment(...)`` (the part it replaces) and a
plain form post with a 303 redirect. Bad input is a 400 (``HTTPException``) with a short
reason; cut what the page lists in SQL (``limits``) and fold long values (``fold``).
"""

from __future__ import annotations

from typing import Any

from toro_monitor.context import Monitor
from toro_monitor.handlers import (
    bulk,
    histograms,
    job,
    jobs,
    plugin_endpoints,
    plugin_pages,
    processes,
    queues,
    static,
)

#: The monitor's own page groups, in the order their routes are registered.
GROUPS = (jobs, job, bulk, queues, histograms, processes, static)


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
