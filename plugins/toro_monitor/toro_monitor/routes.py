"""The monitor's request handlers: full pages normally, the changed part alone for htmx.

A request from htmx (``HX-Request``, not a history restore) gets the partial the page polls or
swaps; any other request gets the whole page, so every URL can be shared and opened directly.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from litestar import Request, get, post
from litestar.exceptions import HTTPException, NotFoundException
from litestar.plugins.htmx import HTMXRequest
from litestar.response import File, Redirect, Template
from litestar.status_codes import HTTP_200_OK, HTTP_303_SEE_OTHER, HTTP_400_BAD_REQUEST
from markupsafe import Markup

from toro_core import Job
from toro_monitor import assets, charts, endpoints, jobquery
from toro_monitor.view import MonitorView
from toro_monitor.views import job_sections, view_context

if TYPE_CHECKING:
    from toro_monitor.app import Monitor

try:  # Litestar >= 2.19 wants path parameters marked; older 2.x infers them
    from litestar.params import FromPath

    JobId = FromPath[int]
    StaticName = FromPath[str]
except ImportError:  # pragma: no cover
    JobId = int  # type: ignore[misc]
    StaticName = str  # type: ignore[misc]

T = "toro_monitor/"
#: Name of the cross-site token's cookie, and of the header the pages send the token in.
CSRF_COOKIE = "toro_monitor_csrf"
CSRF_HEADER = "x-toro-csrf"


@dataclasses.dataclass(frozen=True)
class StatusLook:
    """How a status is shown; statuses no installed plugin registers get a neutral look."""

    name: str
    label: str
    color: str
    final: bool


def is_partial(request: Request[Any, Any, Any]) -> bool:
    htmx = getattr(request, "htmx", None)
    return htmx is not None and bool(htmx) and not htmx.history_restore_request


def handlers(monitor: Monitor) -> list[Any]:
    """Every route of the monitor, bound to ``monitor``."""
    store, options, toro = monitor.store, monitor.options, monitor.toro
    looks = {s.name: StatusLook(s.name, s.label, s.color, s.final) for s in toro.statuses}

    def look(name: str) -> StatusLook:
        return looks.get(name) or StatusLook(name, name, charts.UNKNOWN_COLOUR, False)

    def context(request: Request[Any, Any, Any], active: str, **values: Any) -> dict[str, Any]:
        return {
            "base": request.scope.get("root_path", "").rstrip("/"),
            "options": options,
            "statuses": list(looks.values()),
            "status": look,
            "active": active,
            "pages": monitor.pages,
            "scripts": monitor.scripts,
            "htmx_file": assets.HTMX_FILE,
            "csrf_header": CSRF_HEADER,
            "poll": f"every {options.poll_interval}ms [document.visibilityState === 'visible']",
            **values,
        }

    def render(
        request: Request[Any, Any, Any], page: str, part: str, ctx: dict[str, Any]
    ) -> Template:
        name = part if is_partial(request) else page
        return Template(template_name=T + name, context=ctx)

    # ------------------------------------------------------------------ jobs

    @get("/", name="home")
    async def home(request: Request[Any, Any, Any]) -> Redirect:
        base = request.scope.get("root_path", "").rstrip("/")
        landing = next((v.path for v in monitor.pages if v.landing and v.path), "/jobs")
        return Redirect(path=f"{base}{landing}", status_code=HTTP_303_SEE_OTHER)

    @get("/jobs", name="jobs")
    async def jobs(request: HTMXRequest) -> Template:
        params = {key: request.query_params.getall(key) for key in request.query_params}
        try:
            query = jobquery.parse(params, set(looks))
        except jobquery.BadQuery as exc:
            raise HTTPException(status_code=HTTP_400_BAD_REQUEST, detail=str(exc)) from exc
        page = await store.list_jobs(query)
        ctx = context(
            request,
            "jobs",
            query=query,
            page=page,
            sorts=jobquery.SORTS,
            encode_cursor=jobquery.encode_cursor,
        )
        if not is_partial(request):
            ctx["queues"] = await store.distinct_queues()
            ctx["classes"] = await store.distinct_classes()
        return render(request, "jobs.html", "_jobs_results.html", ctx)

    async def job_or_404(job_id: int) -> dict[str, Any]:
        row = await store.get_job(job_id)
        if row is None:
            raise NotFoundException(f"no job {job_id}")
        return row

    async def detail_context(
        request: Request[Any, Any, Any], row: dict[str, Any]
    ) -> dict[str, Any]:
        job = Job.from_row(row)
        properties = row["properties"] or {}
        retried = properties.get("retried:history")
        return context(
            request,
            "jobs",
            job=row,
            error={k: properties.get(f"error:{k}") for k in ("class", "message", "backtrace")},
            retried=retried if isinstance(retried, list) else [],
            sections=await job_sections(
                monitor.views,
                job,
                monitor.env,
                store,
                base=request.scope.get("root_path", "").rstrip("/"),
            ),
        )

    @get("/jobs/{job_id:int}", name="job")
    async def job_detail(request: HTMXRequest, job_id: JobId) -> Template:
        ctx = await detail_context(request, await job_or_404(job_id))
        return render(request, "job.html", "_job_detail.html", ctx)

    @post("/jobs/{job_id:int}/retry", name="retry", status_code=HTTP_200_OK)
    async def retry(request: HTMXRequest, job_id: JobId) -> Template | Redirect:
        await job_or_404(job_id)
        retried = await store.retry(job_id)
        row = await job_or_404(job_id)
        if not is_partial(request):
            base = request.scope.get("root_path", "").rstrip("/")
            return Redirect(path=f"{base}/jobs/{job_id}", status_code=HTTP_303_SEE_OTHER)
        notice = None if retried else "This job is not failed (any more); nothing was done."
        if request.query_params.get("view") == "row":
            ctx = context(request, "jobs", row=row, notice=notice)
            return Template(template_name=T + "_job_row.html", context=ctx)
        ctx = await detail_context(request, row)
        ctx["notice"] = notice or "Queued again."
        return Template(template_name=T + "_job_detail.html", context=ctx)

    # ------------------------------------------------------------------ queues and charts

    async def histogram_context(request: Request[Any, Any, Any], active: str) -> dict[str, Any]:
        histogram = await store.histogram([s.name for s in looks.values()])
        order = charts.status_order(histogram, list(looks))
        colours = {name: look(name).color for name in order}
        queues = histogram.queues()
        return context(
            request,
            active,
            histogram=histogram,
            order=order,
            colours=colours,
            queues=queues,
            bars=charts.bars,
            split=charts.split,
        )

    @get("/queues", name="queues")
    async def queues(request: HTMXRequest) -> Template:
        ctx = await histogram_context(request, "queues")
        return render(request, "queues.html", "_queues.html", ctx)

    @get("/chart", name="chart")
    async def chart(request: HTMXRequest) -> Template:
        ctx = await histogram_context(request, "chart")
        return render(request, "chart.html", "_chart.html", ctx)

    # ------------------------------------------------------------------ processes

    @get("/processes", name="processes")
    async def processes(request: HTMXRequest) -> Template:
        ctx = context(request, "processes", processes=await store.processes())
        return render(request, "processes.html", "_processes.html", ctx)

    # ------------------------------------------------------------------ static files

    @get("/static/{name:path}", name="static")
    async def static(name: StaticName) -> File:
        path = monitor.static.get(name.lstrip("/"))
        if path is None:
            raise NotFoundException("no such file")
        return File(
            path=path,
            media_type=assets.media_type(path),
            content_disposition_type="inline",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    # ------------------------------------------------------------------ plugin pages

    def page_handler(view: MonitorView, number: int) -> Any:
        async def page(request: HTMXRequest) -> Template:
            extra = await view_context(view, None, store)
            ctx = context(request, view.path or "", view=view)
            body = monitor.env.get_template(view.template).render(
                view=view, base=ctx["base"], **extra
            )
            ctx["body"] = Markup(body)
            return render(request, "page.html", "_page.html", ctx)

        return get(view.path, name=f"view-page-{number}")(page)

    pages = [page_handler(view, n) for n, view in enumerate(monitor.pages)]
    routes = [home, jobs, job_detail, retry, queues, chart, processes, static, *pages]
    return [*routes, *endpoints.handlers(monitor)]
