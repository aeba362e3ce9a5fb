"""One job: its detail (``/jobs/<id>``, a modal or a page) and the actions on it (retry,
cancel)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.exceptions import HTTPException, NotFoundException
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK, HTTP_303_SEE_OTHER, HTTP_400_BAD_REQUEST

from toro_core import Job
from toro_monitor.context import (
    JobId,
    Monitor,
    MonitorDep,
    base_path,
    fragment,
    is_partial,
    page_context,
    render,
)
from toro_monitor.control import CANCELLABLE
from toro_monitor.cursor import MAX_ID, MIN_ID
from toro_monitor.views import job_sections
from toro_monitor.waiting import why_waiting

#: What ``?view=`` of an action may ask for: the row of the list, or the detail.
ACTION_VIEWS = (None, "row", "detail")


def bad_request(reason: str) -> HTTPException:
    return HTTPException(status_code=HTTP_400_BAD_REQUEST, detail=reason)


async def job_or_404(monitor: Monitor, job_id: int) -> dict[str, Any]:
    """The job's row; 400 for an id outside ``bigint``, 404 for no such job."""
    if not MIN_ID <= job_id <= MAX_ID:
        raise bad_request("job id out of range")
    row = await monitor.store.get_job(job_id)
    if row is None:
        raise NotFoundException(f"no job {job_id}")
    return row


async def detail_context(
    request: Request[Any, Any, Any], monitor: Monitor, row: dict[str, Any]
) -> dict[str, Any]:
    """The detail's context: the row, its error, the hand retries and the plugin sections."""
    properties = row["properties"] or {}
    retried = properties.get("retried:history")
    sections = await job_sections(
        monitor.views, Job.from_row(row), monitor.env, monitor.store, base=base_path(request)
    )
    return page_context(
        request,
        monitor,
        "jobs",
        job=row,
        error={k: properties.get(f"error:{k}") for k in ("class", "message", "backtrace")},
        retried=retried if isinstance(retried, list) else [],
        sections=sections,
        waiting=await why_waiting(await monitor.store.core(), row),
    )


@get("/jobs/{job_id:int}", name="job")
async def job_detail(request: HTMXRequest, monitor: MonitorDep, job_id: JobId) -> Template:
    ctx = await detail_context(request, monitor, await job_or_404(monitor, job_id))
    return render(request, "job.html", "_job_detail.html", ctx)


def action_view(request: HTMXRequest) -> str | None:
    """What an action's ``?view=`` asks to get back: the list's ``row``, the ``detail``, or
    nothing (a plain form post); any other parameter is a 400."""
    views = request.query_params.getall("view", [])
    if len(views) > 1 or (views[0] if views else None) not in ACTION_VIEWS:
        raise bad_request("view must be given at most once, as 'row' or 'detail'")
    if set(request.query_params) - {"view"}:
        raise bad_request("an action takes no parameter but view")
    return views[0] if views else None


async def answer(
    request: HTMXRequest, monitor: Monitor, job_id: int, view: str | None, notice: str
) -> Template | Redirect:
    """An action's answer: the job's row or detail as it is now (with ``notice``) for htmx,
    a redirect to the job's page for a plain form post."""
    row = await job_or_404(monitor, job_id)
    if not is_partial(request):
        return Redirect(path=f"{base_path(request)}/jobs/{job_id}", status_code=HTTP_303_SEE_OTHER)
    if view == "row":
        return fragment(
            "_job_row.html", page_context(request, monitor, "jobs", row=row, notice=notice)
        )
    ctx = await detail_context(request, monitor, row)
    ctx["notice"] = notice
    return fragment("_job_detail.html", ctx)


@post("/jobs/{job_id:int}/retry", name="retry", status_code=HTTP_200_OK)
async def retry(request: HTMXRequest, monitor: MonitorDep, job_id: JobId) -> Template | Redirect:
    """Put a failed job back to its queue. htmx gets the replaced row (``?view=row``) or
    detail; a plain form post is redirected to the job's page."""
    view = action_view(request)
    await job_or_404(monitor, job_id)
    retried = await monitor.store.retry(job_id)
    if retried:
        notice = "" if view == "row" else "Queued again."
    else:
        notice = "This job is not failed (any more); nothing was done."
    return await answer(request, monitor, job_id, view, notice)


#: What the cancel answers say, by the kernel's outcome.
CANCEL_NOTICES = {
    "cancelled": "Cancelled: it will not run.",
    "requested": "Its process was asked to stop it: it ends cancelled within about 2 s.",
}


@post("/jobs/{job_id:int}/cancel", name="cancel", status_code=HTTP_200_OK)
async def cancel(request: HTMXRequest, monitor: MonitorDep, job_id: JobId) -> Template | Redirect:
    """Cancel a queued, scheduled, blocked or running job through the kernel (a running one
    is stopped by the process that holds it, on whichever host); answered like retry."""
    view = action_view(request)
    before = await job_or_404(monitor, job_id)
    outcome = await monitor.store.cancel(job_id)
    if outcome is None:
        raise NotFoundException(f"no job {job_id}")
    # the kernel answers a final job with its status: an earlier cancel also says "cancelled"
    if outcome in CANCEL_NOTICES and before["status"] in CANCELLABLE:
        # in the row, its badge (or its "cancelling" mark) says it
        notice = "" if view == "row" else CANCEL_NOTICES[outcome]
    else:
        notice = f"This job is {outcome[:40]} already; nothing was done."
    return await answer(request, monitor, job_id, view, notice)


HANDLERS = [job_detail, retry, cancel]
