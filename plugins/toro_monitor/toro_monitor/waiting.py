"""Why a waiting job waits: the sentence the job detail shows for a queued, scheduled or
blocked job held back by a paused queue or a limit."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from toro_core.plugin import CoreStore

#: Statuses of jobs that wait to run.
WAITING = ("queued", "scheduled", "blocked")


def limit_keys(job: Mapping[str, Any]) -> list[str]:
    """The limits a job counts against: its own (class or key) and its queue's."""
    keys = [f"queue:{job['queue']}"]
    if job.get("limit_key"):
        keys.append(job["limit_key"])
    return keys


async def why_waiting(core: CoreStore, job: Mapping[str, Any]) -> str | None:
    """The reason, or ``None`` when nothing holds the job back (or it does not wait)."""
    if job["status"] not in WAITING:
        return None
    paused = {row["name"] for row in await core.queue_states() if row["paused_at"] is not None}
    limits = {row["key"]: row for row in await core.limits_for(limit_keys(job))}
    return reason(job, paused, limits)


def reason(
    job: Mapping[str, Any], paused: set[str], limits: Mapping[str, Mapping[str, Any]]
) -> str | None:
    """See :func:`why_waiting` (no I/O: the paused queues and the job's limits are given)."""
    status, key = job["status"], job.get("limit_key")
    own = limits.get(key) if key else None
    if job["queue"] in paused:
        return f"Its queue {job['queue']!r} is paused: it waits until the queue is resumed."
    if status == "blocked" and own is not None:
        return (
            f"Waits for a free slot of its limit {key!r}: {own['running']} of "
            f"{own['concurrency']} running, {own['blocked']} waiting."
        )
    if status == "scheduled" and own is not None and own["rate"] is not None:
        due = job.get("scheduled_at")
        when = f" (next try at {due:%H:%M:%S})" if isinstance(due, datetime) else ""
        return (
            f"Waits for room in its rate limit {key!r}: {own['rate']} starts per "
            f"{own['per_seconds']:g} s, {own['recent_starts']} in the current window{when}."
        )
    queue_limit = limits.get(f"queue:{job['queue']}")
    if (
        status == "queued"
        and queue_limit is not None
        and queue_limit["concurrency"] is not None
        and queue_limit["running"] >= queue_limit["concurrency"]
    ):
        return (
            f"Its queue's limit is full: {queue_limit['running']} of "
            f"{queue_limit['concurrency']} running; it starts when one ends."
        )
    return None
