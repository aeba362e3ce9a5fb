"""The outcome writer against a real database: fencing, and a retry after a lost answer."""

from __future__ import annotations

import uuid

import anyio
import psycopg
from psycopg_pool import AsyncConnectionPool

from toro_core.runtime.outcomes import OutcomeWriter, PendingOutcome
from toro_core.store import CoreStore
from toro_core.testing import rows


def _running_jobs(db: str, owner: str, count: int) -> list[int]:
    with psycopg.connect(db, autocommit=True) as conn:
        return [
            row[0]
            for row in conn.execute(
                "INSERT INTO toro_jobs (class_name, status, started_at, locked_by, attempt)"
                " SELECT 'x.Y', 'running', now(), %s, 1 FROM generate_series(1, %s)"
                " RETURNING id",
                (owner, count),
            )
        ]


def _flush(db: str, outcomes: list[PendingOutcome]) -> OutcomeWriter:
    async def main() -> OutcomeWriter:
        async with AsyncConnectionPool(db, kwargs={"autocommit": True}, open=False) as pool:
            writer = OutcomeWriter(CoreStore(pool), flush_size=100, flush_interval=0.01, limit=1000)
            for outcome in outcomes:
                writer.add(outcome)
            await writer.flush_once()
            return writer

    return anyio.run(main, backend="asyncio")


def _outcome(job_id: int, owner: str, *, tried: bool = False) -> PendingOutcome:
    return PendingOutcome(job_id, 1, owner, "complete", 0.01, None, "{}", tried=tried)


def test_outcomes_of_a_holder_that_lost_the_job_are_refused(toro_db):
    owner, other = str(uuid.uuid4()), str(uuid.uuid4())
    mine = _running_jobs(toro_db, owner, 2)
    taken = _running_jobs(toro_db, other, 1)  # another process holds this one now
    writer = _flush(toro_db, [_outcome(i, owner) for i in [*mine, *taken]])
    assert (writer.written, writer.refused) == (2, 1)
    statuses = dict(rows(toro_db, "SELECT id, status FROM toro_jobs"))
    assert [statuses[i] for i in [*mine, *taken]] == ["complete", "complete", "running"]


def test_a_retry_after_a_lost_answer_is_not_reported_as_refused(toro_db):
    """The first try committed but its answer was lost with the connection: the retry finds
    the rows already written by this holder, and says so instead of 'refused'."""
    owner = str(uuid.uuid4())
    ids = _running_jobs(toro_db, owner, 3)
    with psycopg.connect(toro_db, autocommit=True) as conn:  # what the lost first try did
        conn.execute(
            "UPDATE toro_jobs SET status = 'complete', locked_by = NULL, finished_at = now()"
            " WHERE id = ANY(%s)",
            (ids[:2],),
        )
        conn.execute(  # and one was recovered meanwhile: that one is truly refused
            "UPDATE toro_jobs SET status = 'queued', locked_by = NULL WHERE id = %s", (ids[2],)
        )
    writer = _flush(toro_db, [_outcome(i, owner, tried=True) for i in ids])
    assert (writer.written, writer.refused) == (2, 1)
    assert writer.pending == 0
