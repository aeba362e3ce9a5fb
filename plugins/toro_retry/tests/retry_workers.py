"""Worker classes for the toro-retry tests (imported by worker processes with -r).

Each run inserts a row into ``retry_runs`` (created by the test) so a worker can fail a set
number of times and the test can see how often and when each job ran.
"""

from __future__ import annotations

import os
from datetime import timedelta

import anyio
import psycopg

from toro_core import Worker

RUNS_TABLE = "CREATE TABLE retry_runs (key text NOT NULL, at timestamptz NOT NULL DEFAULT now())"


def record_run(key: str) -> int:
    """Note one run of ``key``; return how many runs it has had, this one included."""
    with psycopg.connect(os.environ["TORO_DATABASE_URL"], autocommit=True) as conn:
        conn.execute("INSERT INTO retry_runs (key) VALUES (%s)", (key,))
        row = conn.execute("SELECT count(*) FROM retry_runs WHERE key = %s", (key,)).fetchone()
        assert row is not None
        return int(row[0])


class Flaky(Worker):
    """Fails its first ``failures`` runs, then succeeds (seed-style fixed interval)."""

    retry_interval = timedelta(seconds=1)

    def perform(self, key: str, failures: int) -> str:
        run = record_run(key)
        if run <= failures:
            raise RuntimeError(f"run {run} of {key} fails")
        return "ok"


class AlwaysFails(Worker):
    retry_interval = 0.2
    max_attempts = 3

    def perform(self, key: str) -> None:
        raise ValueError(f"run {record_run(key)} fails")


class RetriesTimeoutsOnly(Worker):
    """Retries timeouts (JobTimeout is a TimeoutError) and nothing else."""

    retry_interval = 0.2
    max_attempts = 2
    retry_on = (TimeoutError,)
    timeout = 0.3

    async def perform(self, key: str, kind: str) -> None:
        await anyio.to_thread.run_sync(record_run, key)
        if kind == "timeout":
            await anyio.sleep(5)
        raise ValueError(f"{kind} is not retried")


class NeverRetriesKeyError(Worker):
    retry_interval = 0.2
    no_retry_on = (KeyError,)

    def perform(self, key: str) -> None:
        record_run(key)
        raise KeyError(key)


class NoRetry(Worker):
    """No retry option: the seed's behaviour, a failed job stays failed."""

    def perform(self, key: str) -> None:
        record_run(key)
        raise RuntimeError("fails once and for all")


class OwnDelay(Worker):
    """Its ``retry_delay`` method wins over the (long) retry_interval."""

    retry_interval = 3600
    max_attempts = 2

    def retry_delay(self, attempt: int, error: BaseException) -> float:
        return 0.1 * attempt

    def perform(self, key: str) -> None:
        raise LookupError(f"run {record_run(key)} fails")


class BadOptions(Worker):
    retry_interval = "soon"

    def perform(self) -> None:
        record_run("bad-options")
