"""Pages that plugins add (``monitor_views`` with ``kind="page"``): one handler per view, at the
view's path, its body rendered from the view's template inside the monitor's page."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litestar import get
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from toro_monitor.context import MonitorDep, page_context, render
from toro_monitor.view import MonitorView
from toro_monitor.views import page_body


def page_handler(view: MonitorView, number: int) -> Any:
    """The route handler of the page ``view`` (the ``number``-th page, for its route name)."""

    async def page(request: HTMXRequest, monitor: MonitorDep) -> Template:
        ctx = page_context(request, monitor, view.path or "", view=view)
        ctx["body"] = await page_body(view, monitor.env, monitor.store, ctx["base"])
        return render(request, "page.html", "_page.html", ctx)

    return get(view.path, name=f"view-page-{number}")(page)


def handlers(pages: Sequence[MonitorView]) -> list[Any]:
    return [page_handler(view, number) for number, view in enumerate(pages)]
