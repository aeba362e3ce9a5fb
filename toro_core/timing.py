"""Turning what a caller passes to ``perform_in`` / ``perform_at`` into a moment in UTC.

Pure functions, so the rules are tested without a database:

* an interval is a number of seconds (``int`` or ``float``) or a ``timedelta``; it may be zero
  but not negative, NaN or infinite;
* a moment is a ``datetime``; an aware one is converted to UTC, a naive one is read as UTC;
* anything else is a ``TypeError`` that says what is accepted.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def interval_seconds(interval: Any, *, what: str = "perform_in") -> float:
    """``interval`` in seconds; ``TypeError``/``ValueError`` for anything that is not one."""
    if isinstance(interval, timedelta):
        seconds = interval.total_seconds()
    elif isinstance(interval, (int, float)) and not isinstance(interval, bool):
        seconds = float(interval)
    else:
        raise TypeError(
            f"{what}: the interval must be a number of seconds or a datetime.timedelta, "
            f"not {type(interval).__name__}"
        )
    if math.isnan(seconds) or math.isinf(seconds):
        raise ValueError(f"{what}: the interval must be a finite number of seconds, not {seconds}")
    if seconds < 0:
        raise ValueError(
            f"{what}: the interval is negative ({seconds:g}s); pass 0 to run at once, or use "
            "perform_at for a moment in time"
        )
    return seconds


def as_utc(when: Any, *, what: str = "perform_at") -> datetime:
    """``when`` as an aware datetime in UTC (a naive one is read as UTC)."""
    if not isinstance(when, datetime):
        hint = ""
        if isinstance(when, (int, float)) and not isinstance(when, bool):
            hint = (
                "; for a delay in seconds use perform_in, for a Unix timestamp pass "
                "datetime.fromtimestamp(ts, UTC)"
            )
        elif isinstance(when, date):
            hint = "; a date has no time of day: pass datetime.combine(day, time(), UTC)"
        raise TypeError(f"{what}: expected a datetime, not {type(when).__name__}{hint}")
    if when.tzinfo is None or when.utcoffset() is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def due_after(interval: Any, *, now: datetime | None = None) -> datetime:
    """The moment ``interval`` after ``now`` (default: the current time), in UTC."""
    seconds = interval_seconds(interval)
    return (now or utcnow()) + timedelta(seconds=seconds)


def placement(when: datetime) -> dict[str, Any]:
    """Status and due time of a job asked to run at ``when``: ``scheduled`` in the future,
    ``queued`` at once when it is already due (``scheduled_at`` still records the time)."""
    status = "scheduled" if when > utcnow() else "queued"
    return {"status": status, "scheduled_at": when}
