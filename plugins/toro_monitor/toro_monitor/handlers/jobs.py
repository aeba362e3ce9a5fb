"""The jobs list (``/jobs``: filters, sort, keyset pages) and the home redirect to it."""

from __future__ import annotations

from typing import Any

import psycopg
from litestar import Request, get
from litestar.exceptions import HTTPException
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER, HTTP_400_BAD_REQUEST

from toro_monitor import cursor, jobquery
from toro_monitor.context import MonitorDep, base_path, is_partial, page_context, render


@get("/", name="home")
async def home(request: Request[Any, Any, Any], monitor: MonitorDep) -> Redirect:
    """To the landing page a plugin names (``landing=True``), else to the jobs list."""
    landing = next((v.path for v in monitor.pages if v.landing and v.path), "/jobs")
    return Redirect(path=f"{base_path(request)}{landing}", status_code=HTTP_303_SEE_OTHER)


@get("/jobs", name="jobs")
async def jobs(request: HTMXRequest, monitor: MonitorDep) -> Template:
    params = {key: request.query_params.getall(key) for key in request.query_params}
    try:
        query = jobquery.parse(params, set(monitor.looks))
    except jobquery.BadQuery as exc:
        raise HTTPException(status_code=HTTP_400_BAD_REQUEST, detail=str(exc)) from exc
    try:
        page = await monitor.store.list_jobs(query)
    except psycopg.errors.DataException as exc:
        # a value PostgreSQL refuses that the checks above let through: still the request's
        reason = str(exc).splitlines()[0][:200] if str(exc) else "bad value"
        raise HTTPException(status_code=HTTP_400_BAD_REQUEST, detail=reason) from exc
    ctx = page_context(
        request,
        monitor,
        "jobs",
        query=query,
        page=page,
        encode_cursor=cursor.encode,
    )
    if not is_partial(request):
        ctx["queues"], ctx["classes"] = await monitor.store.datalists()
    return render(request, "jobs.html", "_jobs_results.html", ctx)


HANDLERS = [home, jobs]
