"""Worker classes for the flow-control tests (imported by worker processes with -r).

Each run records when it started and ended (``limit_runs``, created by the tests), so a test
can compute how many ran at once and how many started in any second.
"""

from __future__ import annotations

import os
from typing import Any

import anyio
import psycopg

from toro_core import Worker

RUNS_TABLE = "CREATE TABLE limit_runs (key text NOT NULL, started float8 NOT NULL, ended float8)"


def _execute(sql: str, params: tuple[Any, ...]) -> None:
    with psycopg.connect(os.environ["TORO_DATABASE_URL"], autocommit=True) as conn:
        conn.execute(sql, params)


async def _run(key: str, seconds: float) -> None:
    started = await anyio.to_thread.run_sync(_clock)
    await anyio.sleep(seconds)
    ended = await anyio.to_thread.run_sync(_clock)
    await anyio.to_thread.run_sync(
        _execute, "INSERT INTO limit_runs VALUES (%s, %s, %s)", (key, started, ended)
    )


def _clock() -> float:
    import time

    return time.time()


class ThreeAtATime(Worker):
    concurrency_limit = 3

    async def perform(self, seconds: float) -> None:
        await _run("three", seconds)


class OnePerCustomer(Worker):
    concurrency_limit = 1

    @classmethod
    def concurrency_key(cls, customer: str, seconds: float) -> str | None:
        return customer

    async def perform(self, customer: str, seconds: float) -> None:
        await _run(customer, seconds)


class FiftyPerSecond(Worker):
    rate_limit = "50/s"

    async def perform(self, n: int) -> None:
        await _run("rated", 0)


class Free(Worker):
    """No limits: must not wait behind limited jobs of the same queue."""

    async def perform(self, n: int) -> None:
        await _run("free", 0)


class ThreeByPriority(Worker):
    """Limited to three at once; each run is recorded under its tag (its priority band)."""

    concurrency_limit = 3

    async def perform(self, tag: str, seconds: float) -> None:
        await _run(tag, seconds)


class TenPerSecondPerCustomer(Worker):
    """At most ten starts a second for each customer."""

    rate_limit = "10/s"

    @classmethod
    def concurrency_key(cls, customer: str, n: int) -> str | None:
        return customer

    async def perform(self, customer: str, n: int) -> None:
        await _run(customer, 0)
