"""What every request handler shares: the :class:`Monitor` and the page context and rendering.

The app keeps its :class:`Monitor` in ``app.state.monitor``; a handler receives it as the
``monitor`` dependency (:func:`provide_monitor`), so handler modules import this module and
never the app. A handler builds its context with :func:`page_context` and answers with
:func:`render`: the whole page for a normal request, the polled or swapped part for htmx.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import jinja2
from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from toro_core import Toro
from toro_monitor import assets
from toro_monitor.charts import UNKNOWN_COLOUR
from toro_monitor.control import CANCELLABLE
from toro_monitor.cursor import BadQuery
from toro_monitor.options import MonitorOptions
from toro_monitor.security import CSRF_HEADER
from toro_monitor.store import MonitorStore
from toro_monitor.view import MonitorView

#: Type of a job id in a path (``/jobs/{job_id:int}``).
JobId = FromPath[int]
#: Type of a file name in a path (``/static/{name:path}``).
StaticName = FromPath[str]

#: Folder of the monitor's own templates, inside its template loader.
T = "toro_monitor/"
#: The monitor's own pages in the navigation: ``(active key, path, label)``; plugin pages
#: follow them.
NAVIGATION = (
    ("jobs", "/jobs", "Jobs"),
    ("queues", "/queues", "Queues"),
    ("chart", "/chart", "Chart"),
    ("processes", "/processes", "Processes"),
)


@dataclasses.dataclass(frozen=True)
class StatusLook:
    """How a status is shown; statuses no installed plugin registers get a neutral look."""

    name: str
    label: str
    color: str
    final: bool


@dataclasses.dataclass
class Monitor:
    """Everything a request handler needs, kept in ``app.state.monitor``."""

    toro: Toro
    options: MonitorOptions
    store: MonitorStore
    views: list[MonitorView]
    env: jinja2.Environment
    static: dict[str, Path]
    #: Whether the monitor itself authenticates requests (basic auth or a
    #: ``monitor_authorize`` implementation).
    authenticated: bool = False
    looks: dict[str, StatusLook] = dataclasses.field(init=False)
    #: The statuses' stylesheet (:data:`~toro_monitor.assets.STATUS_CSS`).
    status_css: str = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.looks = {
            s.name: StatusLook(s.name, s.label, s.color, s.final) for s in self.toro.statuses
        }
        self.status_css = assets.status_stylesheet((s.name, s.color) for s in self.looks.values())

    @property
    def pages(self) -> list[MonitorView]:
        return [view for view in self.views if view.kind == "page"]

    @property
    def scripts(self) -> list[str]:
        return [s for view in self.views for s in view.scripts if s in self.static]

    def look(self, name: str) -> StatusLook:
        return self.looks.get(name) or StatusLook(name, name, UNKNOWN_COLOUR, False)


#: How a handler asks for the monitor: a parameter ``monitor: MonitorDep``.
MonitorDep = NamedDependency[Monitor]


def provide_monitor(state: State) -> Monitor:
    """The ``monitor`` dependency of every handler."""
    monitor: Monitor = state.monitor
    return monitor


def base_path(request: Request[Any, Any, Any]) -> str:
    """The monitor's URL prefix (the ASGI ``root_path``), for links; ``""`` at the root."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def is_partial(request: Request[Any, Any, Any]) -> bool:
    """Whether htmx asked for the changed part alone (a history restore wants the page)."""
    htmx = getattr(request, "htmx", None)
    return htmx is not None and bool(htmx) and not htmx.history_restore_request


def page_context(
    request: Request[Any, Any, Any], monitor: Monitor, active: str, **values: Any
) -> dict[str, Any]:
    """The context every monitor template gets, plus ``values``."""
    options = monitor.options
    return {
        "base": base_path(request),
        "options": options,
        "statuses": list(monitor.looks.values()),
        "status": monitor.look,
        "active": active,
        "navigation": NAVIGATION,
        "pages": monitor.pages,
        "scripts": monitor.scripts,
        "htmx_file": assets.HTMX_FILE,
        "status_css": assets.STATUS_CSS,
        "csrf_header": CSRF_HEADER,
        "cancellable": CANCELLABLE,
        # polls pause while the tab is hidden: monitor.js cancels them (a trigger filter
        # would need eval, which the CSP forbids)
        "poll": f"every {options.poll_interval}ms",
        **values,
    }


async def form_fields(request: Request[Any, Any, Any]) -> dict[str, list[str]]:
    """The fields of a posted form, each with its values; a field that is not text (a file
    of a multipart body) is a :class:`~toro_monitor.cursor.BadQuery`."""
    form = await request.form()
    fields: dict[str, list[str]] = {}
    for key in form:
        values = form.getall(key)
        if not all(isinstance(value, str) for value in values):
            raise BadQuery(f"field {key[:40]!r} is not text")
        fields[key] = [str(value) for value in values]
    return fields


def render(request: Request[Any, Any, Any], page: str, part: str, ctx: dict[str, Any]) -> Template:
    """The template ``page`` (a whole page) or, for htmx, ``part`` (its changing part)."""
    return Template(template_name=T + (part if is_partial(request) else page), context=ctx)


def fragment(name: str, ctx: dict[str, Any], headers: dict[str, str] | None = None) -> Template:
    """The template ``name`` alone (an action's answer that replaces part of a page), with
    ``headers`` (``HX-Trigger``...)."""
    return Template(template_name=T + name, context=ctx, headers=headers)
