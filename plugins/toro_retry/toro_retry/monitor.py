"""The job-detail section toro-retry adds to toro-monitor: the error of every failed attempt.

Plain data for the monitor's ``monitor_views`` hook; only the monitor calls it, so this module
(which imports toro-monitor's light ``MonitorView``) is imported only when the monitor is there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from toro_monitor.view import MonitorView

from toro_core import Job
from toro_retry.failures import GAVE_UP_KEY, WAITING_STATUS
from toro_retry.history import ERRORS_KEY

TEMPLATES = Path(__file__).parent / "templates"


def has_history(job: Job) -> bool:
    """Show the section for jobs with at least one recorded failure."""
    return bool(isinstance(job.properties.get(ERRORS_KEY), list) and job.properties[ERRORS_KEY])


def history_context(job: Job) -> dict[str, Any]:
    """What the template shows: the entries, and when the job runs again or why it stopped."""
    entries = [item for item in job.properties.get(ERRORS_KEY, []) if isinstance(item, dict)]
    return {
        "retries": entries,
        "next_at": job.scheduled_at if job.status == WAITING_STATUS else None,
        "gave_up": job.properties.get(GAVE_UP_KEY),
    }


def retries_view() -> MonitorView:
    """The "Retries" section of a job's detail."""
    return MonitorView(
        title="Retries",
        template="toro_retry/history.html",
        templates=TEMPLATES,
        predicate=has_history,
        context=history_context,
    )
