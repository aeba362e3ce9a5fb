"""Monitor views that plugins contribute through the ``monitor_views`` hook, and plain endpoints
through ``monitor_endpoints``.

A light module (no Litestar import): a plugin builds its views inside its ``monitor_views``
implementation, which only the monitor calls, with ``from toro_monitor.view import
MonitorView``; the monitor renders them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from toro_core import Job


@dataclasses.dataclass(frozen=True, slots=True)
class MonitorView:
    """A section of the job detail (``kind="job"``) or a page of its own (``kind="page"``)."""

    #: Title shown above the section or in the navigation.
    title: str
    #: Jinja template name, relative to ``templates``; name it after your plugin
    #: (``"my_plugin/timing.html"``) so no other plugin's template can shadow it.
    template: str
    #: Folder that holds the template (and its siblings).
    templates: Path
    kind: Literal["job", "page"] = "job"
    #: For ``kind="job"``: decides for which jobs the section is shown.
    predicate: Callable[[Job], bool] = lambda job: True
    #: For ``kind="page"``: the URL path under the monitor, such as ``"/timings"``.
    path: str | None = None
    #: Extra template context: called with the job (``kind="job"``) or ``None`` (pages);
    #: may be a coroutine function that receives an open async psycopg connection as ``conn``.
    context: Callable[..., Any] | None = None
    #: Static files served under ``/static/<name>/``: ``{name: folder}``.
    static: Mapping[str, Path] = dataclasses.field(default_factory=dict)
    #: Script files (under ``static``) the page includes, such as ``"my_plugin/view.js"``.
    scripts: tuple[str, ...] = ()
    #: For ``kind="page"``: the monitor's ``/`` leads here (the first such page; else to the
    #: jobs list).
    landing: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class MonitorEndpoint:
    """A URL of the monitor that answers with plain text, not a page (Prometheus's ``/metrics``).

    It is behind the monitor's auth like every page; it answers GET only.
    """

    #: The URL path under the monitor, such as ``"/metrics"``.
    path: str
    #: Coroutine function called with an open async psycopg connection (``conn=``), returning
    #: the body.
    render: Callable[..., Awaitable[str]]
    #: The response's content type.
    media_type: str = "text/plain; charset=utf-8"
