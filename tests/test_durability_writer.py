"""The outcome writer against a real database: fencing, and a retry after a lost answer."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

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


def _flush(
    db: str,
    outcomes: list[PendingOutcome],
    on_written: Callable[[list[PendingOutcome]], None] | None = None,
) -> OutcomeWriter:
    async def main() -> OutcomeWriter:
        async with AsyncConnectionPool(db, kwargs={"autocommit": True}, open=False) as pool:
            writer = OutcomeWriter(
                CoreStore(pool),
                flush_size=100,
                flush_interval=0.01,
                limit=1000,
                on_written=on_written,
            )
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


def test_the_observer_sees_what_was_written_and_nothing_refused(toro_db):
    """``on_written`` (behind the ``outcomes_written`` hook) gets one call per batch with the
    outcomes the database accepted: not the refused one, but the ones a lost answer's first
    try wrote."""
    owner, other = str(uuid.uuid4()), str(uuid.uuid4())
    mine = _running_jobs(toro_db, owner, 3)
    taken = _running_jobs(toro_db, other, 1)
    with psycopg.connect(toro_db, autocommit=True) as conn:  # a lost answer's first try
        conn.execute(
            "UPDATE toro_jobs SET status = 'complete', locked_by = NULL, finished_at = now()"
            " WHERE id = %s",
            (mine[0],),
        )
    calls: list[list[int]] = []
    outcomes = [_outcome(i, owner, tried=True) for i in [*mine, *taken]]
    writer = _flush(toro_db, outcomes, lambda stored: calls.append([o.id for o in stored]))
    assert (writer.written, writer.refused) == (3, 1)
    assert len(calls) == 1 and sorted(calls[0]) == sorted(mine)


def test_the_observer_sees_the_form_written_when_a_value_is_refused(toro_db):
    """A batch the database refuses is written one by one; an outcome stored as a plain
    failure (its status refused too) is reported with the status its row has."""
    owner = str(uuid.uuid4())
    ids = _running_jobs(toro_db, owner, 2)
    with psycopg.connect(toro_db, autocommit=True) as conn:
        conn.execute(
            "ALTER TABLE toro_jobs ADD CONSTRAINT not_done_here"
            f" CHECK (id <> {int(ids[1])} OR status <> 'complete')"
        )
    stored: list[tuple[int, str]] = []
    writer = _flush(
        toro_db,
        [_outcome(i, owner) for i in ids],
        lambda batch: stored.extend((o.id, o.status) for o in batch),
    )
    assert writer.written == 2
    assert sorted(stored) == [(ids[0], "complete"), (ids[1], "failed")]
    assert dict(rows(toro_db, "SELECT id, status FROM toro_jobs")) == dict(sorted(stored))


def test_an_observer_that_raises_stops_nothing(toro_db, caplog):
    owner = str(uuid.uuid4())
    ids = _running_jobs(toro_db, owner, 2)

    def broken(stored: list[PendingOutcome]) -> None:
        raise RuntimeError("observer broke")

    with caplog.at_level(logging.ERROR, logger="toro.outcomes"):
        writer = _flush(toro_db, [_outcome(i, owner) for i in ids], broken)
    assert (writer.written, writer.pending) == (2, 0)
    assert "observing 2 written outcomes failed" in caplog.text
    assert {status for _, status in rows(toro_db, "SELECT id, status FROM toro_jobs")} == {
        "complete"
    }
