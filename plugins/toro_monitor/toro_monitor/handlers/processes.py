"""The Processes page: every live worker process and the jobs it runs."""

from __future__ import annotations

from litestar import get
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from toro_monitor.context import MonitorDep, page_context, render


@get("/processes", name="processes")
async def processes(request: HTMXRequest, monitor: MonitorDep) -> Template:
    ctx = page_context(request, monitor, "processes", processes=await monitor.store.processes())
    return render(request, "processes.html", "_processes.html", ctx)


HANDLERS = [processes]
