"""Reading a Job from a row: every column (read positionally, the claim's case) or the seed's
columns only (a plugin's older query), both giving the same job; the claim statements' rows
are of the first kind."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import anyio

from toro_core import Toro, Worker
from toro_core.job import JOB_COLUMNS, Job

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


class Reading(Job):
    """A Job that records how it was built: positionally or by keyword."""

    built: list[tuple[int, list[str]]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        Reading.built.append((len(args), sorted(kwargs)))
        super().__init__(*args, **kwargs)


def test_a_claimed_row_without_a_result_is_read_positionally():
    """The claim does not read ``result``; its rows still take the positional way."""
    Reading.built.clear()
    claimed = {name: value for name, value in ROW.items() if name != "result"}
    job = Reading.from_json_row(claimed)
    assert Reading.built == [(len(JOB_COLUMNS), [])]
    assert dataclasses.asdict(job) == dataclasses.asdict(Job.from_json_row(ROW))


class Noted(Worker):
    def perform(self, note: str) -> None:
        pass


def test_the_claim_statements_return_every_column_but_the_result(toro_db):
    """Both claims (the plain one and the one that knows limits) answer the job's columns, all
    but ``result``, so a claimed job is read positionally (the test above)."""
    from toro_core.store import CoreStore, aconnect
    from toro_core.store.claims import plain_claim
    from toro_core.store.queries import query

    app = Toro(toro_db, load_entry_points=False)
    Noted.toro_app = app
    owner = "00000000-0000-0000-0000-0000000000dd"

    async def claimed_columns(statement: str) -> set[str]:
        conn = await aconnect(toro_db)
        async with conn:
            await conn.execute(
                "INSERT INTO toro_processes (id, host, pid, queues, concurrency)"
                " VALUES (%s, 'h', 1, '{default}', 10) ON CONFLICT DO NOTHING",
                (owner,),
            )
            rows = await CoreStore(connection=conn).fetch_all(
                statement,
                {"queue": "default", "queues": ["default"], "after_rank": -101, "after": 0,
                 "limit": 1, "owner": owner, "started_by": "h:1", "relaxed": False},
            )  # fmt: skip
            assert len(rows) == 1 and rows[0]["id"] is not None
            return set(rows[0])

    try:
        Noted.perform_bulk([("a",), ("b",)])
        for statement in (plain_claim(1), query("claim_jobs")):
            assert anyio.run(claimed_columns, statement) | {"result"} == set(JOB_COLUMNS)
    finally:
        app.close()
