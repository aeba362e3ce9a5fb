"""The Queues page (jobs per queue and status, paused or not, processes, limits) and its
actions: pause and resume a queue, in every process on every host (the kernel's
``toro_queues`` row, read by every claim)."""

from __future__ import annotations

from typing import Any

from litestar import get, post
from litestar.exceptions import HTTPException
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK, HTTP_303_SEE_OTHER, HTTP_400_BAD_REQUEST

from toro_monitor import control
from toro_monitor.context import Monitor, MonitorDep, base_path, form_fields, is_partial, render
from toro_monitor.cursor import BadQuery
from toro_monitor.handlers.histograms import histogram_context


async def queues_context(request: HTMXRequest, monitor: Monitor, **values: Any) -> dict[str, Any]:
    """The histogram's context plus every queue's state (:mod:`toro_monitor.queues`)."""
    ctx = await histogram_context(request, monitor, "queues")
    overview = await monitor.store.queue_overview()
    ctx.update(overview=overview, names=overview.names(ctx["queues"]), **values)
    return ctx


@get("/queues", name="queues")
async def queues(request: HTMXRequest, monitor: MonitorDep) -> Template:
    ctx = await queues_context(request, monitor)
    return render(request, "queues.html", "_queues.html", ctx)


async def queue_action(request: HTMXRequest, monitor: Monitor, pause: bool) -> Template | Redirect:
    """Pause or resume the queue the form names; htmx gets the queues table again with a
    notice, a plain form post a redirect to the page."""
    try:
        control.no_parameters(request.query_params)
        name = control.queue_form(await form_fields(request))
    except BadQuery as exc:
        raise HTTPException(status_code=HTTP_400_BAD_REQUEST, detail=str(exc)) from exc
    if pause:
        changed = await monitor.store.pause_queue(name)
        notice = "paused: no process starts its jobs" if changed else "was paused already"
    else:
        changed = await monitor.store.resume_queue(name)
        notice = "resumed" if changed else "was not paused"
    if not is_partial(request):
        return Redirect(path=f"{base_path(request)}/queues", status_code=HTTP_303_SEE_OTHER)
    ctx = await queues_context(request, monitor, notice=f"Queue {name}: {notice}.")
    return render(request, "queues.html", "_queues.html", ctx)


@post("/queues/pause", name="queue-pause", status_code=HTTP_200_OK)
async def pause(request: HTMXRequest, monitor: MonitorDep) -> Template | Redirect:
    """Pause a queue: every process stops claiming its jobs at its next claim; running ones
    finish, waiting ones stay queued."""
    return await queue_action(request, monitor, pause=True)


@post("/queues/resume", name="queue-resume", status_code=HTTP_200_OK)
async def resume(request: HTMXRequest, monitor: MonitorDep) -> Template | Redirect:
    """Resume a paused queue (its idle workers are woken)."""
    return await queue_action(request, monitor, pause=False)


HANDLERS = [queues, pause, resume]
