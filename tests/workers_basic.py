"""Worker classes used by the kernel tests (imported by worker processes with -r)."""

from __future__ import annotations

import time

import anyio
import psycopg

from toro_core import Worker


def _record(job_marker: int) -> None:
    import os

    with psycopg.connect(os.environ["TORO_DATABASE_URL"], autocommit=True) as conn:
        conn.execute("INSERT INTO test_done (marker) VALUES (%s)", (job_marker,))


class RecordOnce(Worker):
    """Inserts its marker into test_done (unique): a second run of a job would fail loudly."""

    async def perform(self, marker: int) -> None:
        import os

        async with await psycopg.AsyncConnection.connect(
            os.environ["TORO_DATABASE_URL"], autocommit=True
        ) as conn:
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
