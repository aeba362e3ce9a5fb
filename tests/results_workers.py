"""Worker classes for the results tests (imported by worker processes with -r)."""

from __future__ import annotations

import datetime
import os
import time
from typing import Any

import anyio

from toro_core import Worker


class Returns(Worker):
    """Returns its argument: any JSON value, or None."""

    def perform(self, value: Any) -> Any:
        return value


class ReturnsAsync(Worker):
    async def perform(self, value: Any) -> Any:
        return value


class ReturnsWhenDone(Worker):
    """Sleeps, then returns the wall-clock time it returned at (for latency checks)."""

    async def perform(self, seconds: float) -> dict[str, float]:
        await anyio.sleep(seconds)
        return {"returned_at": time.time()}


class ReturnsDatetime(Worker):
    def perform(self) -> Any:
        return {"when": datetime.datetime(2030, 1, 1)}


class ReturnsNul(Worker):
    """A string JSON holds but PostgreSQL's jsonb refuses (NUL): the database says no."""

    def perform(self) -> str:
        return "a\x00b"


class FailsSlowly(Worker):
    def perform(self, seconds: float, message: str) -> None:
        time.sleep(seconds)
        raise ValueError(message)


class WithProperties(Worker):
    def perform(self, extra: bool) -> dict[str, Any]:
        returned: dict[str, Any] = {"job_properties": {"rows": 3}}
        if extra:
            returned["total"] = 42
        return returned


class FlakyOnce(Worker):
    """Fails its first attempt (it leaves a marker file), returns on the next (toro-retry
    retries it)."""

    retry_interval = 0.2

    def perform(self, marker: str) -> str:
        if not os.path.exists(marker):
            open(marker, "w").close()
            raise ConnectionError("first attempt fails")
        return "second time lucky"


class FrozenObjects(Worker):
    """Returns how many objects the garbage collector leaves out (``gc.freeze()``)."""

    def perform(self) -> int:
        import gc

        return gc.get_freeze_count()
