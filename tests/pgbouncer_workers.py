"""Worker classes for the PgBouncer tests (imported by worker processes with -r)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio

from toro_core import Worker


class Add(Worker):
    """Returns the sum of its arguments (a sync perform, in a thread)."""

    def perform(self, a: int, b: int) -> int:
        return a + b


class Echo(Worker):
    """Returns its argument (an async perform, on the loop)."""

    async def perform(self, value: Any) -> Any:
        return value


class Boom(Worker):
    """Fails (no retrying: the class sets no retry_interval)."""

    def perform(self, message: str) -> None:
        raise ValueError(message)


class Spawns(Worker):
    """Enqueues an Add from inside a job (through the worker's default app)."""

    def perform(self, a: int) -> int:
        return Add.perform_async(a, a).id


class Progress(Worker):
    """Writes properties while it runs (toro-properties, on the worker's pool) and returns
    some."""

    async def perform(self) -> dict[str, Any]:
        from toro_properties import aset_properties

        await aset_properties(step="halfway")
        return {"job_properties": {"step": "done"}, "value": 1}


_failed: set[str] = set()


class FailsOnce(Worker):
    """Fails its first run in this process; toro-retry runs it again a second later."""

    retry_interval = timedelta(seconds=1)

    def perform(self, key: str) -> str:
        if key not in _failed:
            _failed.add(key)
            raise RuntimeError(f"first attempt of {key}")
        return f"{key} ok"


class Ticks(Worker):
    """A periodic job (toro-scheduler) every second."""

    schedule = "* * * * * *"

    async def perform(self) -> None:
        pass


class Lingers(Worker):
    """Its first run (no file at ``marker`` yet) creates the file and sleeps a minute, long
    enough to be killed; a later run returns at once."""

    async def perform(self, marker: str) -> str:
        path = Path(marker)
        if not path.exists():
            path.write_text("first run")
            await anyio.sleep(60)
        return "second run"
