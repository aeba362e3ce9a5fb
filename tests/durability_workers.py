"""Worker classes for the durability tests (imported by worker processes with ``-r``).

Jobs that record their executions write ``(marker, pid)`` into ``test_executions`` when they
start, on ``$DURABILITY_RECORD_URL`` (the test database itself, never the cut-able proxy).
"""

from __future__ import annotations

import os
import time

import anyio
from psycopg_pool import AsyncConnectionPool

from toro_core import Worker

_pool: AsyncConnectionPool | None = None

EXECUTIONS_DDL = """
CREATE TABLE test_executions (
    marker integer NOT NULL,
    pid    integer NOT NULL,
    at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- Every accepted outcome: a job completed twice would show up here twice.
CREATE TABLE test_completions (job_id bigint, attempt integer, holder uuid, status text);
CREATE FUNCTION test_record_completion() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO test_completions VALUES (OLD.id, OLD.attempt, OLD.locked_by, NEW.status);
    RETURN NULL;
END;
$$;
CREATE TRIGGER test_completions AFTER UPDATE OF status ON toro_jobs
    FOR EACH ROW WHEN (OLD.status = 'running' AND NEW.status IN ('complete', 'failed'))
    EXECUTE FUNCTION test_record_completion();
"""


async def _record(marker: int) -> None:
    global _pool
    if _pool is None:
        url = os.environ.get("DURABILITY_RECORD_URL") or os.environ["TORO_DATABASE_URL"]
        _pool = AsyncConnectionPool(
            url, min_size=1, max_size=4, kwargs={"autocommit": True}, open=False
        )
        await _pool.open()
    async with _pool.connection() as conn:
        await conn.execute(
            "INSERT INTO test_executions (marker, pid) VALUES (%s, %s)", (marker, os.getpid())
        )


class RecordedSleep(Worker):
    """Records that it started, then sleeps ``seconds``."""

    async def perform(self, marker: int, seconds: float) -> None:
        await _record(marker)
        await anyio.sleep(seconds)


class Sleep(Worker):
    """Sleeps ``seconds`` without touching the database (runs through an outage)."""

    async def perform(self, seconds: float) -> None:
        await anyio.sleep(seconds)


class SyncSleep(Worker):
    """A sync job: sleeps ``seconds`` in its thread."""

    def perform(self, seconds: float) -> None:
        time.sleep(seconds)


class SyncStuck(Worker):
    """A sync job that overruns its timeout; the thread is abandoned, not stopped."""

    timeout = 0.5

    def perform(self, seconds: float) -> None:
        time.sleep(seconds)
