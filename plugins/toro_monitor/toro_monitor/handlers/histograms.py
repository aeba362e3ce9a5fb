"""The Chart page, and the histogram of jobs per queue and status it shares with Queues."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from toro_monitor import charts
from toro_monitor.context import Monitor, MonitorDep, page_context, render


async def histogram_context(
    request: Request[Any, Any, Any], monitor: Monitor, active: str
) -> dict[str, Any]:
    """The histogram, its statuses in order with their colours, and the chart helpers."""
    histogram = await monitor.store.histogram(list(monitor.looks))
    order = charts.status_order(histogram, list(monitor.looks))
    return page_context(
        request,
        monitor,
        active,
        histogram=histogram,
        order=order,
        colours={name: monitor.look(name).color for name in order},
        queues=histogram.queues(),
        bars=charts.bars,
        split=charts.split,
    )


@get("/chart", name="chart")
async def chart(request: HTMXRequest, monitor: MonitorDep) -> Template:
    ctx = await histogram_context(request, monitor, "chart")
    return render(request, "chart.html", "_chart.html", ctx)


HANDLERS = [chart]
