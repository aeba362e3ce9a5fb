"""A periodic worker ticking every second (interval) with a short catch-up window."""

from __future__ import annotations

from datetime import timedelta

from toro_core import Worker

CATCH_UP = 10


class EverySecondCatchUp(Worker):
    schedule = timedelta(seconds=1)
    schedule_catch_up = CATCH_UP

    async def perform(self) -> None:
        pass
