"""The status toro-scheduler adds: a job waiting for its time."""

from __future__ import annotations

from toro_core import Status

#: A job that runs at ``scheduled_at``; the promoter moves it to ``queued`` when it is due.
SCHEDULED = Status("scheduled", "Scheduled", "#6f42c1", final=False)
