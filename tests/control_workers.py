"""Worker classes for the job-control tests (imported by worker processes with -r).

Runs are recorded in ``control_runs`` (created by the tests) so a test sees which jobs ran,
when and with which arguments.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import anyio
import psycopg

from toro_core import Snooze, Worker

RUNS_TABLE = (
    "CREATE TABLE control_runs (key text NOT NULL,"
    " at timestamptz NOT NULL DEFAULT clock_timestamp(), data jsonb)"
)


def record(key: str, data: Any = None) -> int:
    """Note one run of ``key``; return how many runs it has had, this one included."""
    with psycopg.connect(os.environ["TORO_DATABASE_URL"], autocommit=True) as conn:
        conn.execute(
            "INSERT INTO control_runs (key, data) VALUES (%s, %s)", (key, json.dumps(data))
        )
        row = conn.execute("SELECT count(*) FROM control_runs WHERE key = %s", (key,)).fetchone()
        assert row is not None
        return int(row[0])


class Ordered(Worker):
    """Records that it ran (the row's started_at gives the order)."""

    def perform(self, key: str) -> None:
        record(key)


class KeywordJob(Worker):
    """Records its positional and keyword arguments."""

    def perform(self, key: str, *, user_id: int, tags: list[str] | None = None) -> str:
        record(key, {"user_id": user_id, "tags": tags})
        return "ok"


class LongAsync(Worker):
    """Sleeps (cancellable); retried if it fails, which a cancel must not cause."""

    retry_interval = 1
    max_attempts = 5

    async def perform(self, key: str, seconds: float) -> None:
        record(key)
        await anyio.sleep(seconds)
        record(f"{key}:finished")


class LongSync(Worker):
    """Sleeps in its thread (a sync perform cannot be interrupted)."""

    def perform(self, key: str, seconds: float) -> None:
        record(key)
        time.sleep(seconds)
        record(f"{key}:finished")


class Snoozer(Worker):
    """Snoozes its first ``snoozes`` runs, then fails ``failures`` times, then succeeds."""

    retry_interval = 0.2
    max_attempts = 2

    def perform(self, key: str, snoozes: int, failures: int = 0) -> None:
        run = record(key)
        if run <= snoozes:
            raise Snooze(0.2)
        if run <= snoozes + failures:
            raise RuntimeError(f"failure {run - snoozes}")


class UniqueReport(Worker):
    """One at a time per arguments."""

    unique = True

    async def perform(self, day: str, seconds: float = 0) -> None:
        record(day)
        await anyio.sleep(seconds)


class PerCustomer(Worker):
    """Unique per customer, whatever else it is given; no uniqueness for customer 0."""

    @classmethod
    def unique_key(cls, customer: int, *args: Any, **kwargs: Any) -> str | None:
        return None if customer == 0 else f"customer-{customer}"

    def perform(self, customer: int, note: str = "") -> None:
        record(f"customer-{customer}")


class Paused(Worker):
    """Runs in the queue the pause test pauses."""

    queue = "pausable"

    def perform(self, key: str) -> None:
        record(key)
