"""The hooks toro-monitor defines for other plugins, added to the app's plugin manager when the
monitor's plugin is registered (the kernel's ``add_hookspecs`` hook), so toro-core knows
nothing of a monitor.

Implement them with ``@hookimpl(optionalhook=True)`` so your plugin also loads where the
monitor is not installed; import :class:`~toro_monitor.view.MonitorView` inside the
implementation, which only the monitor calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from toro_core import hookspec

if TYPE_CHECKING:
    from toro_core import Toro
    from toro_monitor.view import MonitorEndpoint, MonitorView


@hookspec
def monitor_views() -> Iterable[MonitorView] | None:
    """Return views for the monitor: job-detail sections and pages of their own.

    Called once when the monitor app is built. A job section
    (:class:`~toro_monitor.view.MonitorView` with ``kind="job"``) is shown in a job's detail
    when its ``predicate(job)`` is true; a page (``kind="page"``) gets a navigation entry and a
    URL. Synchronous.
    """


@hookspec
def monitor_endpoints() -> Iterable[MonitorEndpoint] | None:
    """Return plain endpoints for the monitor: URLs that answer with text, not a page.

    Called once when the monitor app is built. Each
    :class:`~toro_monitor.view.MonitorEndpoint` gets a GET route at its ``path`` (behind the
    monitor's auth) whose body its ``render(conn=...)`` returns; toro-metrics serves the queue
    metrics at ``/metrics`` this way. A path another page or endpoint has is an error.
    Synchronous.
    """


@hookspec
def monitor_authorize(request: Any, app: Toro) -> Any:
    """Decide whether a monitor request may proceed: ``False`` refuses it.

    Called for every monitor request with the Litestar ``Request``. Return ``False`` to refuse
    (401), ``True`` or ``None`` to let other implementations decide. The request is refused if
    any implementation returns ``False``. May be async.
    """
