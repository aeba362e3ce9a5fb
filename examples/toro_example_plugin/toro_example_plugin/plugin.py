"""The example plugin: an ``around_job`` middleware that records how long each job took.

It stores the time in the job's properties under ``example:elapsed_ms`` and the plugin's name
under ``example:wrapped_by``, so a test (or a user) can see in SQL that every job went through it.

It also adds two monitor views (``monitor_views``): a "Timing" section in the detail of every
job it timed, and a "Timings" page listing the slowest of the newest 1,000 jobs.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from toro_core import Execution, Job, hookimpl


@hookimpl
def around_job(execution: Execution) -> object:
    @asynccontextmanager
    async def timed() -> AsyncIterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            execution.properties["example:elapsed_ms"] = round(
                (time.perf_counter() - start) * 1000, 3
            )
            execution.properties["example:wrapped_by"] = "toro-example-plugin"

    return timed()


# ------------------------------------------------------------------ monitor views

TEMPLATES = Path(__file__).parent / "templates"

# Only JSON numbers are read (a row written by hand may hold anything under the key), as
# numeric, which holds any JSON number (float8 overflows on 1e400).
RECENT_TIMINGS = """
SELECT id, left(class_name, 200) AS class_name,
       (properties ->> 'example:elapsed_ms')::numeric AS elapsed_ms
  FROM (SELECT id, class_name, properties FROM toro_jobs ORDER BY id DESC LIMIT 1000) AS recent
 WHERE jsonb_typeof(properties -> 'example:elapsed_ms') = 'number'
 ORDER BY elapsed_ms DESC
 LIMIT 20
"""


def was_timed(job: Job) -> bool:
    """The job section shows only for jobs this plugin's middleware timed."""
    return "example:elapsed_ms" in job.properties


def timing_context(job: Job) -> dict[str, object]:
    """The time, or ``None`` (with the raw value) when the property is not a finite number."""
    raw = job.properties["example:elapsed_ms"]
    elapsed: float | None = None
    if isinstance(raw, int | float | str) and not isinstance(raw, bool):
        try:
            elapsed = float(raw)
        except (ValueError, OverflowError):
            elapsed = None
    if elapsed is not None and not math.isfinite(elapsed):
        elapsed = None
    scalar = raw is None or isinstance(raw, str | int | float | bool)
    shown = str(raw)[:80] if scalar else f"a JSON {'object' if isinstance(raw, dict) else 'list'}"
    return {"elapsed_ms": elapsed, "slow": elapsed is not None and elapsed > 1000, "raw": shown}


async def slowest_context(job: None, conn: Any) -> dict[str, object]:
    cursor = await conn.execute(RECENT_TIMINGS)
    return {"timings": await cursor.fetchall()}


@hookimpl(optionalhook=True)
def monitor_views() -> list[Any]:
    """A section in the detail of timed jobs, and a page of the slowest recent jobs (a hook of
    toro-monitor: only the monitor calls it, so its ``MonitorView`` is imported here)."""
    from toro_monitor.view import MonitorView

    return [
        MonitorView(
            title="Timing (example plugin)",
            template="toro_example_plugin/timing.html",
            templates=TEMPLATES,
            kind="job",
            predicate=was_timed,
            context=timing_context,
            static={"toro_example_plugin": Path(__file__).parent / "static"},
            scripts=("toro_example_plugin/timing.css",),
        ),
        MonitorView(
            title="Timings",
            template="toro_example_plugin/slowest.html",
            templates=TEMPLATES,
            kind="page",
            path="/example/timings",
            context=slowest_context,
        ),
    ]
