"""The "Scheduled" page of toro-monitor: upcoming scheduled jobs and periodic schedules.

:func:`scheduled_page` describes the page as a toro-monitor ``MonitorView``; the
``monitor_views`` hook in :mod:`toro_scheduler.plugin` returns it. Only the monitor calls that
hook, and this module is imported there, so toro-scheduler installs and runs without the
monitor (and never imports Litestar): the monitor renders the template itself.

The page is polled by the monitor (every few seconds while visible), so each refresh costs
three small statements: the next :data:`UPCOMING` scheduled jobs from the partial index
``toro_jobs_scheduled``, a count of scheduled jobs capped at :data:`COUNT_CAP`, and the
``toro_schedules`` rows with their latest tick. Every value reaches the template as data;
the monitor's Jinja environment escapes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from toro_monitor.view import MonitorView

from toro_core import SchemaMissing
from toro_core.plugin import Store, utcnow
from toro_scheduler.periodic import HOUSEKEEPING_EVERY
from toro_scheduler.sql import query
from toro_scheduler.triggers import next_ticks, trigger_from, zone

#: Folder holding ``toro_scheduler/scheduled.html``.
TEMPLATES = Path(__file__).parent / "templates"
#: URL path of the page under the monitor.
PATH = "/scheduled"
#: Scheduled jobs listed on the page (the earliest ones).
UPCOMING = 50
#: The count of scheduled jobs stops here (shown as "10,000+").
COUNT_CAP = 10_000
#: Next runs shown per schedule.
NEXT_RUNS = 3
#: Longest argument preview, in characters.
ARGS_PREVIEW = 160
#: A schedule no worker recorded for this long is flagged: no running process enqueues it.
STALE_AFTER = 3 * HOUSEKEEPING_EVERY


def scheduled_page() -> MonitorView:
    """The monitor page at ``/scheduled``."""
    return MonitorView(
        title="Scheduled",
        template="toro_scheduler/scheduled.html",
        templates=TEMPLATES,
        kind="page",
        path=PATH,
        context=page_context,
    )


@dataclass(frozen=True, slots=True)
class Moment:
    """A time as the page shows it: UTC text, and the local time of a schedule's zone."""

    utc: str
    local: str = ""


async def page_context(job: None, conn: psycopg.AsyncConnection[Any]) -> dict[str, Any]:
    """The template's data: ``jobs``, ``total``, ``capped``, ``schedules``, ``problem``."""
    store = Store(connection=conn)
    try:
        jobs = [
            _job(row) for row in await store.fetch_all(query("upcoming_jobs"), {"limit": UPCOMING})
        ]
        counted = await store.fetch_one(query("monitor_count_scheduled"), {"cap": COUNT_CAP + 1})
        total = int(counted["jobs"]) if counted else 0
        now = utcnow()
        schedules = [_schedule(row, now) for row in await store.fetch_all(query("list_schedules"))]
    except SchemaMissing:
        return {
            "problem": "The scheduler's tables do not exist yet: run `toro-core migrate`.",
            "jobs": [],
            "total": 0,
            "capped": False,
            "schedules": [],
            "limit": UPCOMING,
        }
    return {
        "problem": None,
        "jobs": jobs,
        "total": min(total, COUNT_CAP),
        "capped": total > COUNT_CAP,
        "schedules": schedules,
        "limit": UPCOMING,
    }


def _job(row: dict[str, Any]) -> dict[str, Any]:
    due_in = float(row["due_in"])
    return {
        "id": row["id"],
        "queue": row["queue"],
        "class_name": row["class_name"],
        "name": row["name"],
        "attempt": row["attempt"],
        "args": args_preview(row["args"]),
        "scheduled_at": moment(row["scheduled_at"]),
        "due_in": due_in,
        "relative": relative(due_in),
        "overdue": due_in < 0,
    }


def _schedule(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    timezone = row["timezone"]
    entry: dict[str, Any] = {
        "name": row["name"],
        "queue": row["queue"],
        "kind": row["kind"],
        "expression": row["expression"],
        "timezone": timezone,
        "catch_up": f"{row['catch_up']:g} s",
        "args": args_preview(row["args"]),
        "last_tick": moment(row["last_tick"], timezone) if row["last_tick"] else None,
        "last_job_id": row["last_job_id"],
        "last_job_status": row["last_job_status"],
        "seen_by": row["seen_by"],
        "seen_ago": span(row["seen_age"]),
        "stale": row["seen_age"] > STALE_AFTER,
        "description": None,
        "next_runs": [],
        "error": None,
    }
    try:
        trigger = trigger_from(row["kind"], row["expression"], timezone)
        entry["description"] = trigger.describe()
        entry["next_runs"] = [moment(t, timezone) for t in next_ticks(trigger, now, NEXT_RUNS)]
    except ValueError as exc:
        entry["error"] = f"next runs cannot be computed: {exc}"
    return entry


def moment(value: datetime, timezone: str = "UTC") -> Moment:
    """``value`` as ``2030-01-01 09:00:00Z``, plus its local time when ``timezone`` is not UTC."""
    utc = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    local = ""
    if timezone != "UTC":
        try:
            local = value.astimezone(zone(timezone)).strftime("%Y-%m-%d %H:%M:%S %Z")
        except ValueError:
            local = ""
    return Moment(utc=utc, local=local)


def span(seconds: float) -> str:
    """A length of time for people: ``42 s``, ``5 min 3 s``, ``2 h 10 min``, ``3 d 4 h``."""
    whole = int(abs(seconds) + 0.5)
    if whole < 120:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def relative(due_in: float) -> str:
    """``in 42 s`` for a job due later; ``due 3 s ago`` for one waiting to be promoted."""
    if due_in >= 0:
        return f"in {span(due_in)}"
    return f"due {span(due_in)} ago"


def args_preview(args: Any) -> str:
    """Compact JSON of ``args``, cut at :data:`ARGS_PREVIEW` characters."""
    text = json.dumps(args, ensure_ascii=False, separators=(", ", ": "), default=str)
    if len(text) > ARGS_PREVIEW:
        return text[: ARGS_PREVIEW - 1] + "…"
    return text
