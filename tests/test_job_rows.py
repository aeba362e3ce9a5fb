"""Reading a Job from a row: every column (read positionally, the claim's case) or the seed's
columns only (a plugin's older query), both giving the same job; a claim's row, a tuple read
by position, and the claim statements' columns."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import anyio

from toro_core import Toro, Worker
from toro_core.job import CLAIM_COLUMNS, JOB_COLUMNS, Job

NOW = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)
ROW = {
    "id": 7,
    "queue": "mail",
    "class_name": "app.workers.Send",
    "args": '[{"to": "a@example.com"}]',
    "name": "send a",
    "created_at": NOW,
    "scheduled_at": None,
    "started_at": NOW,
    "finished_at": None,
    "status": "running",
    "started_by": "h:1",
    "properties": '{"k": 1}',
    "attempt": 2,
    "kwargs": '{"urgent": true}',
    "priority": 5,
    "unique_key": "app.workers.Send:a",
    "cancel_requested_at": None,
    "limit_key": "app.workers.Send",
    "holds_slots": True,
    "result": None,
    "headers": None,
}


def test_the_columns_are_the_jobs_first_fields_in_order():
    names = tuple(field.name for field in dataclasses.fields(Job))
    assert names[: len(JOB_COLUMNS)] == JOB_COLUMNS


def test_a_row_with_every_column_reads_as_the_same_job_as_one_read_by_name():
    job = Job.from_json_row(ROW)
    assert job.args == [{"to": "a@example.com"}] and job.kwargs == {"urgent": True}
    assert job.properties == {"k": 1} and job.headers == {}  # NULL headers: none
    assert (job.priority, job.limit_key, job.holds_slots, job.attempt) == (
        5,
        ROW["limit_key"],
        True,
        2,
    )
    assert job.undecodable is None
    # a row without the columns added after the seed's: read by name, defaults for the rest
    seed_only = {k: v for k, v in ROW.items() if JOB_COLUMNS.index(k) < JOB_COLUMNS.index("kwargs")}
    older = Job.from_json_row(seed_only)
    assert older.kwargs == {} and older.priority == 0 and older.headers == {}
    assert dataclasses.replace(older, kwargs=job.kwargs, priority=5, unique_key=job.unique_key,
                               limit_key=job.limit_key, holds_slots=True) == job  # fmt: skip
    stored = Job.from_json_row({**ROW, "headers": '{"traceparent": "00-x"}'})
    assert stored.headers == {"traceparent": "00-x"}


def test_an_unreadable_document_still_gives_a_job_that_says_why():
    job = Job.from_json_row({**ROW, "args": "[" * 200 + "]" * 200})
    assert job.args == [] and job.undecodable and job.undecodable.startswith("args:")
    assert job.id == 7 and job.kwargs == {"urgent": True}


def test_a_claimed_row_reads_by_position_as_the_same_job():
    """A claim's row is a tuple of CLAIM_COLUMNS (every column but ``result``), read by
    position; the job is the one its mapping reads as, and a bad document is reported."""
    assert CLAIM_COLUMNS == tuple(name for name in JOB_COLUMNS if name != "result")
    claimed = tuple(ROW[name] for name in CLAIM_COLUMNS)
    assert Job.from_claim_row(claimed) == Job.from_json_row(ROW)
    bad = tuple("{" * 200 + "}" * 200 if name == "kwargs" else ROW[name] for name in CLAIM_COLUMNS)
    job = Job.from_claim_row(bad)
    assert job.kwargs == {} and job.undecodable and job.undecodable.startswith("kwargs:")
    assert job.args == [{"to": "a@example.com"}] and job.result is None


class Noted(Worker):
    def perform(self, note: str) -> None:
        pass


def test_the_claim_statements_return_the_claim_columns_in_order(toro_db):
    """Both claims (the plain one and the one that knows limits) answer CLAIM_COLUMNS in that
    order, which :meth:`Job.from_claim_row` reads by position."""
    from toro_core.store import aconnect
    from toro_core.store.claims import plain_claim
    from toro_core.store.queries import query

    app = Toro(toro_db, load_entry_points=False)
    Noted.toro_app = app
    owner = "00000000-0000-0000-0000-0000000000dd"

    async def claimed_columns(statement: str) -> tuple[str, ...]:
        conn = await aconnect(toro_db)
        async with conn:
            await conn.execute(
                "INSERT INTO toro_processes (id, host, pid, queues, concurrency)"
                " VALUES (%s, 'h', 1, '{default}', 10) ON CONFLICT DO NOTHING",
                (owner,),
            )
            cur = await conn.execute(
                statement,
                {"queue": "default", "queues": ["default"], "after_rank": -101, "after": 0,
                 "limit": 1, "owner": owner, "started_by": "h:1", "relaxed": False},
            )  # fmt: skip
            assert len(await cur.fetchall()) == 1 and cur.description is not None
            return tuple(column.name for column in cur.description)

    try:
        Noted.perform_bulk([("a",), ("b",)])
        for statement in (plain_claim(1), query("claim_jobs")):
            assert anyio.run(claimed_columns, statement) == CLAIM_COLUMNS
    finally:
        app.close()
