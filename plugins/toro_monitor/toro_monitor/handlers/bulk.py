"""Bulk actions on the filtered jobs list: retry every failed job, cancel every waiting one.

Two steps, both rendered by the server (the page's CSP allows no inline script, and a count
computed here cannot live in an ``hx-confirm`` text written before it):

1. ``GET /jobs/bulk/<action>?<the list's filters>`` counts the jobs the action would change
   (same filters, no window) and answers a confirmation that states the count and the
   filters, with a form carrying them and ``upto``, the newest job id counted. htmx loads it
   into the page's dialog; without JavaScript it is a page of its own. A GET changes nothing.
2. ``POST /jobs/bulk/<action>`` (CSRF token and Origin check, as every POST) applies the
   action to the jobs matching the same filters that are not newer than ``upto`` (so no job
   queued or failed after the count is touched) and says how many it changed. htmx gets the
   dialog's new content and an ``HX-Trigger: toro-jobs-changed`` that refreshes the list.
"""

from __future__ import annotations

from typing import Any

import psycopg
from litestar import get, post
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template
from litestar.status_codes import HTTP_200_OK, HTTP_400_BAD_REQUEST, HTTP_503_SERVICE_UNAVAILABLE

from toro_monitor import control, jobquery
from toro_monitor.context import (
    Monitor,
    MonitorDep,
    form_fields,
    fragment,
    is_partial,
    page_context,
    render,
)
from toro_monitor.control import BulkAction, BulkResult
from toro_monitor.cursor import BadQuery
from toro_monitor.jobquery import JobQuery

#: Type of an action's name in a path (``/jobs/bulk/{action:str}``).
ActionName = FromPath[str]
#: Event the jobs list listens for to refresh itself at once after a bulk action.
CHANGED_EVENT = "toro-jobs-changed"


def bulk_action(name: str) -> BulkAction:
    """The bulk action named in the path; a 404 for any other name."""
    action = control.BULK.get(name)
    if action is None:
        raise NotFoundException(f"no bulk action {jobquery.shown(name)}")
    return action


def refused(exc: Exception) -> HTTPException:
    """A 400 for a bad parameter; a 503 when the database gave up on the statement (it took
    longer than the monitor's statement timeout: narrower filters help)."""
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return HTTPException(
            status_code=HTTP_503_SERVICE_UNAVAILABLE,
            detail="counting took too long; narrow the filters",
        )
    reason = str(exc).splitlines()[0][:200] if str(exc) else "bad value"
    return HTTPException(status_code=HTTP_400_BAD_REQUEST, detail=reason)


def bulk_context(
    request: HTMXRequest, monitor: Monitor, action: BulkAction, query: JobQuery, **values: Any
) -> dict[str, Any]:
    """What ``_bulk.html`` shows: the action, the filters stated, the statuses it acts on
    (``acting_on``; ``statuses`` stays the page's list of every status)."""
    return page_context(
        request,
        monitor,
        "jobs",
        action=action,
        query=query,
        filters=control.describe(query),
        acting_on=control.statuses_for(action, query),
        limit=monitor.options.bulk_limit,
        **values,
    )


@get("/jobs/bulk/{action:str}", name="bulk-confirm")
async def confirm(request: HTMXRequest, monitor: MonitorDep, action: ActionName) -> Template:
    """The confirmation of ``action`` for the filters in the query string: how many jobs it
    would change (exact up to the bulk limit), and the form that applies it."""
    bulk = bulk_action(action)
    params = {key: request.query_params.getall(key) for key in request.query_params}
    try:
        query = jobquery.parse(params, set(monitor.looks))
        statuses = control.statuses_for(bulk, query)
        limit = monitor.options.bulk_limit
        count, newest = await monitor.store.bulk_count(query, statuses, limit + 1)
    except (BadQuery, psycopg.errors.DataException, psycopg.errors.QueryCanceled) as exc:
        raise refused(exc) from exc
    ctx = bulk_context(
        request, monitor, bulk, query, count=min(count, limit), more=count > limit, upto=newest
    )
    return render(request, "bulk.html", "_bulk.html", ctx)


@post("/jobs/bulk/{action:str}", name="bulk-apply", status_code=HTTP_200_OK)
async def apply(request: HTMXRequest, monitor: MonitorDep, action: ActionName) -> Template:
    """Apply a confirmed ``action`` (its form: the filters and ``upto``); say what it did."""
    bulk = bulk_action(action)
    try:
        control.no_parameters(request.query_params)
        fields = await form_fields(request)
        query, upto = control.bulk_form(fields, set(monitor.looks))
        statuses = control.statuses_for(bulk, query)
        limit = monitor.options.bulk_limit
        result: BulkResult = await monitor.store.bulk_apply(bulk, query, statuses, upto, limit)
    except (BadQuery, psycopg.errors.DataException, psycopg.errors.QueryCanceled) as exc:
        raise refused(exc) from exc
    ctx = bulk_context(request, monitor, bulk, query, result=result, more=result.selected >= limit)
    if is_partial(request):
        return fragment("_bulk.html", ctx, headers={"HX-Trigger": CHANGED_EVENT})
    return render(request, "bulk.html", "_bulk.html", ctx)


HANDLERS = [confirm, apply]
