"""A periodic worker ticking every second (cron with a seconds field)."""

from __future__ import annotations

from toro_core import Worker


class EverySecond(Worker):
    schedule = "* * * * * *"
    schedule_timezone = "Europe/Paris"
    schedule_args = ("tick",)

    async def perform(self, label: str) -> None:
        pass
