"""Pages that plugins add (``monitor_views`` with ``kind="page"``): one handler per view, at the
view's path, its body rendered from the view's template inside the monitor's page."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litestar import get
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template
from markupsafe import Markup

from toro_monitor.context import MonitorDep, page_context, render
from toro_monitor.view import MonitorView
from toro_monitor.views import view_context


def page_handler(view: MonitorView, number: int) -> Any:
    """The route handler of the page ``view`` (the ``number``-th page, for its route name)."""

    async def page(request: HTMXRequest, monitor: MonitorDep) -> Template:
        extra = await view_context(view, None, monitor.store)
        ctx = page_context(request, monitor, view.path or "", view=view)
        body = monitor.env.get_template(view.template).render(view=view, base=ctx["base"], **extra)
        ctx["body"] = Markup(body)
        return render(request, "page.html", "_page.html", ctx)

    return get(view.path, name=f"view-page-{number}")(page)


def handlers(pages: Sequence[MonitorView]) -> list[Any]:
    return [page_handler(view, number) for number, view in enumerate(pages)]
