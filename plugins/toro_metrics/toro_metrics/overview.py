"""The monitor's Overview page (its landing page when toro-metrics is installed): the time
dimension of the jobs.

* attempts completed and failed per minute over the last hour, and per hour over the last day
  (SVG bar charts, drawn on the server);
* the current throughput: attempts finished per second over the last five minutes (the
  current one as far as it has gone);
* the wait (due time to start) p50 and p95 per queue over the last hour;
* the queue depth: queued (and running) jobs per queue, with the age of the oldest queued job.

Charts, throughput and waits come from the per-minute rollup that worker processes with
toro-metrics write (:mod:`toro_metrics.rollup`): a day is at most 1,440 rows per queue and
status, whatever the size of ``toro_jobs``, and the minutes stay after jobs are pruned. The
depth comes from the kernel's partial indexes of queued and running jobs
(:func:`toro_metrics.queues.depth`). So each refresh (the monitor polls the page every few
seconds while it is visible) reads a few hundred index entries, not the table.

Like every monitor page, the values reach the template as data and Jinja escapes them; this
module imports no Litestar.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toro_core import SchemaMissing
from toro_core.plugin import Store, load_queries
from toro_metrics.buckets import WAIT_BOUNDS, quantile
from toro_metrics.charts import COMPLETE, FAILED, Point, bar_chart
from toro_metrics.queues import depth

if TYPE_CHECKING:
    import psycopg

HERE = Path(__file__).parent
#: URL path of the page under the monitor.
PATH = "/overview"
MINUTES = 60
HOURS = 24
#: Minutes the throughput is averaged over (the current one included).
THROUGHPUT_MINUTES = 5


def overview_view() -> Any:
    """The Overview page as a ``MonitorView`` (only the monitor calls this)."""
    from toro_monitor.view import MonitorView

    return MonitorView(
        title="Overview",
        template="toro_metrics/overview.html",
        templates=HERE / "templates",
        kind="page",
        path=PATH,
        context=overview_context,
        static={"toro_metrics": HERE / "static"},
        scripts=("toro_metrics/overview.css",),
        landing=True,
    )


@dataclasses.dataclass(frozen=True, slots=True)
class QueueWait:
    queue: str
    #: Attempts finished in the last hour that the percentiles describe.
    jobs: int
    p50: float | None
    p95: float | None


def points(rows: list[dict[str, Any]], key: str) -> list[Point]:
    return [
        Point(row[key], int(row["complete"]), int(row["failed"]), int(row["total"])) for row in rows
    ]


def waits(rows: list[dict[str, Any]]) -> list[QueueWait]:
    """Wait percentiles per queue from rollup rows (bucket counts added up per queue)."""
    per_queue: dict[str, list[int]] = {}
    for row in rows:
        counts = per_queue.setdefault(row["queue"], [0] * (len(WAIT_BOUNDS) + 1))
        for index, count in enumerate(row["wait_counts"][: len(counts)]):
            counts[index] += int(count)
    return [
        QueueWait(
            queue,
            sum(counts),
            quantile(WAIT_BOUNDS, counts, 0.5),
            quantile(WAIT_BOUNDS, counts, 0.95),
        )
        for queue, counts in sorted(per_queue.items())
    ]


async def overview_context(job: object, conn: psycopg.AsyncConnection[Any]) -> dict[str, Any]:
    """What the page's template shows (see the module docstring)."""
    store = Store(connection=conn)
    queries = load_queries("toro_metrics")
    try:
        minute_rows = await store.fetch_all(queries["per_minute"], {"minutes": MINUTES})
        hours = points(await store.fetch_all(queries["per_hour"], {"hours": HOURS}), "hour")
        recent = await store.fetch_all(queries["waits_per_queue"], {"minutes": MINUTES})
    except SchemaMissing:
        return {"missing": True, "depth": await depth(conn)}
    minutes = points(minute_rows, "minute")
    # over the last few minutes, the current one as far as it has gone
    window = minutes[-THROUGHPUT_MINUTES:]
    elapsed = (minute_rows[-1]["now"] - minute_rows[-1]["minute"]).total_seconds()
    seconds = 60.0 * (len(window) - 1) + max(1.0, elapsed)
    return {
        "missing": False,
        "minute_chart": bar_chart(minutes, every=10, fmt="%H:%M"),
        "hour_chart": bar_chart(hours, bar_width=24, every=4, fmt="%H:00"),
        "last_hour": {
            "complete": sum(p.complete for p in minutes),
            "failed": sum(p.failed for p in minutes),
            "total": sum(p.total for p in minutes),
        },
        "throughput": sum(p.total for p in window) / seconds,
        "this_minute": minutes[-1].total if minutes else 0,
        "waits": waits(recent),
        "depth": await depth(conn),
        "colours": {"complete": COMPLETE, "failed": FAILED},
    }
