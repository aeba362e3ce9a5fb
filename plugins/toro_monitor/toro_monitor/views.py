"""Plugin views from the ``monitor_views`` hook: job-detail sections and pages of their own."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable, Sequence
from typing import Any

import jinja2
from markupsafe import Markup

from toro_core import Job
from toro_monitor.store import MonitorStore
from toro_monitor.view import MonitorView

log = logging.getLogger("toro.monitor")


def check_pages(views: Sequence[MonitorView], reserved: Iterable[str]) -> None:
    """Refuse page views without a path, whose path another page already has, or that fall
    under one of the ``reserved`` paths (the monitor's own, such as ``/jobs``)."""
    taken = [r for r in reserved if r != "/"]
    seen: set[str] = set()
    for view in views:
        if view.kind != "page":
            continue
        path = view.path or ""
        if (
            not path.startswith("/")
            or path.rstrip("/") in seen
            or any(path == r or path.startswith(r + "/") for r in taken)
            or path == "/"
        ):
            raise ValueError(f"monitor view {view.title!r}: page path {path!r} is taken or invalid")
        seen.add(path.rstrip("/"))


async def view_context(view: MonitorView, job: Job | None, store: MonitorStore) -> dict[str, Any]:
    """The extra context of a view: its ``context`` callable's result (awaited with a
    connection when it is a coroutine function)."""
    if view.context is None:
        return {}
    if inspect.iscoroutinefunction(view.context):
        async with store.connection() as conn:
            result = await view.context(job, conn=conn)
    else:
        result = view.context(job)
    return dict(result or {})


FAILED = Markup("<p class='error'>This view failed; see the log.</p>")


async def page_body(
    view: MonitorView, env: jinja2.Environment, store: MonitorStore, base: str = ""
) -> Markup:
    """The rendered body of the page ``view``: its template with ``view``, ``base`` and what
    its ``context`` returns. A view that raises is shown as an error line instead of
    answering 500."""
    try:
        extra = await view_context(view, None, store)
        return Markup(env.get_template(view.template).render(view=view, base=base, **extra))
    except Exception:
        log.exception("monitor page %r failed", view.title)
        return FAILED


async def job_sections(
    views: Sequence[MonitorView],
    job: Job,
    env: jinja2.Environment,
    store: MonitorStore,
    base: str = "",
) -> list[tuple[MonitorView, Markup]]:
    """The rendered sections of every job view whose predicate selects ``job``.

    A view's template gets ``job``, ``view``, ``base`` (the monitor's URL prefix) and what its
    ``context`` returns. A view that raises is shown as an error line instead of breaking
    the page.
    """
    sections = []
    for view in views:
        if view.kind != "job":
            continue
        try:
            if not view.predicate(job):
                continue
            context = await view_context(view, job, store)
            html = env.get_template(view.template).render(job=job, view=view, base=base, **context)
            sections.append((view, Markup(html)))
        except Exception:
            log.exception("monitor view %r failed for job %s", view.title, job.id)
            sections.append((view, FAILED))
    return sections
