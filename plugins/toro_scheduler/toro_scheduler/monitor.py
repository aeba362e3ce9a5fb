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

Rows can hold anything SQL wrote: the page's queries cut text and arguments in SQL (so no
length or JSON depth reaches Python), and a row that still cannot be shown (an interval of
``inf`` seconds, an unknown time zone, a time out of range) shows a short reason in its place
while the other rows show as usual.
"""

from __future__ import annotations

import logging
import math
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
#: Longest name, queue, expression or zone shown, in characters.
TEXT_PREVIEW = 200
#: What the page's queries cut text to: one character more than shown, so a cut is seen.
CUTS = {"cut": TEXT_PREVIEW + 1, "args_cut": ARGS_PREVIEW + 1}
#: A schedule no worker recorded for this long is flagged: no running process enqueues it.
STALE_AFTER = 3 * HOUSEKEEPING_EVERY

log = logging.getLogger("toro.scheduler")


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
        upcoming = await store.fetch_all(
            query("monitor_upcoming_jobs"), {"limit": UPCOMING, **CUTS}
        )
        jobs = [_shown(_job, row) for row in upcoming]
        counted = await store.fetch_one(query("monitor_count_scheduled"), {"cap": COUNT_CAP + 1})
        total = int(counted["jobs"]) if counted else 0
        now = utcnow()
        stored = await store.fetch_all(query("monitor_list_schedules"), CUTS)
        schedules = [_shown(_schedule, row, now) for row in stored]
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


def _shown(convert: Any, row: dict[str, Any], *more: Any) -> dict[str, Any]:
    """``convert(row, *more)``, or for a row it fails on, the row's id or name with the reason
    (``entry["error"]``), so one bad row never fails the page."""
    try:
        entry: dict[str, Any] = convert(row, *more)
        return entry
    except Exception as exc:
        reason = f"{type(exc).__name__}: {str(exc)[:120]}"
        log.warning(
            "scheduled page: row %r cannot be shown (%s)", row.get("id", row.get("name")), reason
        )
        return {
            "broken": True,
            "id": row.get("id"),
            "name": cut(str(row.get("name") or "")),
            "error": f"this row cannot be shown ({reason})",
        }


def cut(text: str | None, limit: int = TEXT_PREVIEW) -> str:
    """``text`` in at most ``limit`` characters, ``…`` ending one that was cut."""
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _job(row: dict[str, Any]) -> dict[str, Any]:
    due_in = row["due_in"]
    return {
        "broken": False,
        "id": row["id"],
        "queue": cut(row["queue"]),
        "class_name": cut(row["class_name"]),
        "name": cut(row["name"]),
        "attempt": row["attempt"],
        "args": cut(row["args_text"], ARGS_PREVIEW),
        "scheduled_at": moment(row["scheduled_at"]),
        "due_in": due_in if due_in is not None else math.inf,
        "relative": "never" if due_in is None else relative(float(due_in)),
        "overdue": due_in is not None and due_in < 0,
    }


def _schedule(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    timezone = row["timezone"]
    seen_age = row["seen_age"]
    entry: dict[str, Any] = {
        "broken": False,
        "name": cut(row["name"]),
        "queue": cut(row["queue"]),
        "kind": row["kind"],
        "expression": cut(row["expression"]),
        "timezone": cut(timezone),
        "catch_up": f"{row['catch_up']:g} s",
        "args": cut(row["args_text"], ARGS_PREVIEW),
        "last_tick": moment(row["last_tick"], timezone) if row["last_tick"] else None,
        "last_job_id": row["last_job_id"],
        "last_job_status": cut(row["last_job_status"]),
        "seen_by": cut(row["seen_by"]),
        "seen_ago": span(seen_age) if seen_age is not None else "never",
        "stale": seen_age is None or seen_age > STALE_AFTER,
        "description": None,
        "next_runs": [],
        "error": None,
    }
    try:
        if len(row["expression"]) > TEXT_PREVIEW or len(timezone) > TEXT_PREVIEW:
            raise ValueError("the expression or time zone is too long")
        trigger = trigger_from(row["kind"], row["expression"], timezone)
        entry["description"] = trigger.describe()
        entry["next_runs"] = [moment(t, timezone) for t in next_ticks(trigger, now, NEXT_RUNS)]
    except (ValueError, OverflowError, ArithmeticError) as exc:
        entry["error"] = f"next runs cannot be computed: {str(exc)[:200]}"
    return entry


def moment(value: datetime | str, timezone: str = "UTC") -> Moment:
    """``value`` as ``2030-01-01 09:00:00Z``, plus its local time when ``timezone`` is not UTC.
    A time Python cannot hold (the monitor loads it as PostgreSQL's text, ``infinity``) is
    shown as that text."""
    if isinstance(value, str):
        return Moment(utc=cut(value))
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
