"""Workers for the toro-scheduler tests (imported by worker processes with -r)."""

from __future__ import annotations

from toro_core import Worker


class Stamp(Worker):
    """Does nothing: the tests read started_at and status from the row."""

    async def perform(self, *args: object) -> None:
        pass
