"""Worker classes used by the kernel tests (imported by worker processes with -r)."""

from __future__ import annotations

import time

import anyio
from psycopg_pool import AsyncConnectionPool

from toro_core import Worker
from toro_core.app import default_app

_pool: AsyncConnectionPool | None = None


async def _shared_pool() -> AsyncConnectionPool:
    """One pool per worker process for the test workers' own writes."""
    global _pool
    if _pool is None:
        connections = default_app().connections  # the worker's: behind PgBouncer too
        _pool = AsyncConnectionPool(
            connections.url,
            min_size=1,
            max_size=4,
            kwargs={"autocommit": True, **connections.kwargs},
            open=False,
        )
        await _pool.open()
    return _pool


class RecordOnce(Worker):
    """Inserts its marker into test_done (unique): a second run of a job fails loudly."""

    async def perform(self, marker: int) -> None:
        pool = await _shared_pool()
        async with pool.connection() as conn:
            await conn.execute("INSERT INTO test_done (marker) VALUES (%s)", (marker,))


class SleepSync(Worker):
    def perform(self, seconds: float) -> None:
        time.sleep(seconds)


class SleepAsync(Worker):
    async def perform(self, seconds: float) -> None:
        await anyio.sleep(seconds)


class Fails(Worker):
    def perform(self, message: str) -> None:
        raise RuntimeError(message)


class Named(Worker):
    queue = "named"

    @classmethod
    def job_name(cls, user_id: int) -> str:
        return f"user #{user_id}"

    def perform(self, user_id: int) -> None:
        pass


class Noop(Worker):
    async def perform(self, *args: object) -> None:
        pass


class SlowWithTimeout(Worker):
    timeout = 0.5

    async def perform(self) -> None:
        await anyio.sleep(5)


class OwnTimeoutError(Worker):
    """Has a timeout, and raises a TimeoutError of its own well before it."""

    timeout = 30

    async def perform(self) -> None:
        raise TimeoutError("the service did not answer")


class SwallowsCancel(Worker):
    """Catches the cancellation of a cancel request and returns normally."""

    async def perform(self) -> str:
        try:
            await anyio.sleep(30)
        except BaseException:
            return "swallowed"
        return "slept"


class ReturnsProperties(Worker):
    """Returns ``count`` as a job property (toro-properties stores it)."""

    def perform(self, count: object) -> dict[str, object]:
        return {"job_properties": {"count": count}}
