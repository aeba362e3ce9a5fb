"""Workers of the retention tests: jobs that complete or fail at once."""

from __future__ import annotations

from toro_core import Worker


class Quick(Worker):
    async def perform(self, i: int) -> None:
        if i % 5 == 0:
            raise RuntimeError(f"job {i} fails on purpose")
