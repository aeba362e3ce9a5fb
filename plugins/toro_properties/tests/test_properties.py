"""toro-properties end to end: a real worker process (`toro-core start`) with the plugin."""

from __future__ import annotations

from typing import Any

import anyio
import psycopg
import pytest
from properties_workers import (
    AsyncProgress,
    CountsComments,
    FromOwnThread,
    ReturnsFoo,
    ReturnsNotAMapping,
    ReturnsOddValues,
    SyncCallInAsync,
    SyncProgress,
)
from toro_properties import aset_properties, set_properties

from toro_core.testing import rows, scalar, wait_for

WORKER = ("-r", "properties_workers", "-c", "4")
FINAL_COUNT = (
    "SELECT count(*) FROM toro_jobs WHERE id = ANY(%s) AND status IN ('complete', 'failed')"
)


def execute(conninfo: str, statement: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(statement)


def properties_of(conninfo: str, job_id: int) -> dict[str, Any]:
    return scalar(conninfo, "SELECT properties FROM toro_jobs WHERE id = %s", (job_id,))


def wait_final(conninfo: str, ids: list[int]) -> None:
    wait_for(
        lambda: scalar(conninfo, FINAL_COUNT, (ids,)) == len(ids),
        timeout=20,
    )


def ids_where(conninfo: str, condition: str) -> list[int]:
    return [r[0] for r in rows(conninfo, f"SELECT id FROM toro_jobs WHERE {condition} ORDER BY id")]


def test_seed_spec_returned_job_properties_are_stored(toro_app, toro_db, start_worker):
    job = ReturnsFoo.perform_async()
    threaded = FromOwnThread.perform_async()
    start_worker(*WORKER, plugins=["properties"])
    wait_final(toro_db, [job.id, threaded.id])
    assert scalar(toro_db, "SELECT status FROM toro_jobs WHERE id = %s", (job.id,)) == "complete"
    assert properties_of(toro_db, job.id)["foo"] == "bar"
    foo = "SELECT properties->>'foo' FROM toro_jobs WHERE id = %s"
    assert scalar(toro_db, foo, (job.id,)) == "bar"
    # the README's note on threads a job starts itself
    assert properties_of(toro_db, threaded.id) == {"from_thread": True, "written_at_once": True}


def test_nested_properties_keep_json_types_and_numbers_compare_as_numbers(
    toro_app, toro_db, start_worker
):
    private = CountsComments.perform_async(1, 9, True)
    ten = CountsComments.perform_async(2, 10, False)
    hundred = CountsComments.perform_async(3, 100, False)
    start_worker(*WORKER, plugins=["properties"])
    wait_final(toro_db, [private.id, ten.id, hundred.id])

    stored = properties_of(toro_db, private.id)
    assert stored["user"] == {"id": 1, "timeline": {"is_private": True}}
    assert stored["ratio"] == 2.25 and stored["comment_ids"] == [0, 1, 2, 3]
    assert "note" in stored and stored["note"] is None
    assert "other" not in stored  # only the job_properties key is stored
    types = rows(
        toro_db,
        "SELECT jsonb_typeof(properties->'comments_count'), jsonb_typeof(properties->'ratio'),"
        " jsonb_typeof(properties #> '{user,timeline,is_private}'),"
        " jsonb_typeof(properties->'comment_ids'), jsonb_typeof(properties->'note')"
        " FROM toro_jobs WHERE id = %s",
        (private.id,),
    )
    assert types == [("number", "number", "boolean", "array", "null")]

    # a nested path, as text and as jsonb
    is_private = "properties #>> '{user,timeline,is_private}' = 'true'"
    assert ids_where(toro_db, is_private) == [private.id]
    assert ids_where(toro_db, "(properties #>> '{user,id}')::int = 2") == [ten.id]
    contains = """properties @> '{"user": {"timeline": {"is_private": false}}}'"""
    assert ids_where(toro_db, contains) == [ten.id, hundred.id]
    # the seed's query: cast to int, compare as numbers
    assert ids_where(toro_db, "(properties->>'comments_count')::int > 9") == [ten.id, hundred.id]
    # a jsonb number compares as a number too (9 < 10 < 100) ...
    assert ids_where(toro_db, "properties->'comments_count' > '9'::jsonb") == [ten.id, hundred.id]
    # ... whereas the text form compares as strings ('10' < '9')
    assert ids_where(toro_db, "properties->>'comments_count' > '9'") == []


def test_progress_is_visible_from_another_connection_before_the_job_ends(
    toro_app, toro_db, start_worker
):
    execute(toro_db, "CREATE TABLE test_release (key text PRIMARY KEY)")
    sync_job = SyncProgress.perform_async("sync")
    async_job = AsyncProgress.perform_async("async")
    start_worker(*WORKER, plugins=["properties"])

    live = "SELECT status, properties->'progress' FROM toro_jobs WHERE id = %s"
    wait_for(lambda: rows(toro_db, live, (sync_job.id,)) == [("running", 0.5)], timeout=15)
    wait_for(lambda: rows(toro_db, live, (async_job.id,)) == [("running", 0.25)], timeout=15)
    assert properties_of(toro_db, sync_job.id)["stage"] == "halfway"

    execute(toro_db, "INSERT INTO test_release VALUES ('sync'), ('async')")
    wait_final(toro_db, [sync_job.id, async_job.id])
    final = properties_of(toro_db, sync_job.id)
    assert final["progress"] == 1.0 and final["stage:last"] == "done"
    # live values survive the final merge
    assert final["stage"] == "halfway" and final["rows"] == 10
    assert properties_of(toro_db, async_job.id) == {"progress": 0.25, "done": True}


def test_values_json_cannot_hold_are_reported_and_the_job_completes(
    toro_app, toro_db, start_worker
):
    odd = ReturnsOddValues.perform_async()
    not_mapping = ReturnsNotAMapping.perform_async()
    misuse = SyncCallInAsync.perform_async()
    worker = start_worker(*WORKER, plugins=["properties"])
    wait_final(toro_db, [odd.id, not_mapping.id, misuse.id])

    status = "SELECT status FROM toro_jobs WHERE id = %s"
    assert scalar(toro_db, status, (odd.id,)) == "complete"
    stored = properties_of(toro_db, odd.id)
    assert stored["good"] == "kept" and stored["started"] is True
    assert stored["live_write_returned"] is False  # one live value was refused
    rejected = stored["properties:rejected"]
    assert set(rejected) == {"started_at", "when", "tags", "nested"}
    assert "datetime.datetime" in rejected["started_at"]
    assert "datetime.date" in rejected["when"] and "builtins.set" in rejected["tags"]
    assert "nan" in rejected["nested"]
    assert "when" not in stored and "tags" not in stored and "nested" not in stored
    assert "job_properties['when']" in worker.log()  # logged too

    assert scalar(toro_db, status, (not_mapping.id,)) == "complete"
    assert properties_of(toro_db, not_mapping.id)["properties:rejected"] == {
        "job_properties": "job_properties is a list, not a mapping"
    }

    # the blocking call from async code is a programming error the job reports
    assert scalar(toro_db, status, (misuse.id,)) == "failed"
    assert "aset_properties" in properties_of(toro_db, misuse.id)["error:message"]


def test_outside_a_job_nothing_is_stored_and_a_warning_says_why(caplog):
    caplog.set_level("WARNING", logger="toro.properties")
    assert set_properties(progress=1.0) is False
    assert "outside a job run by a toro worker with the 'properties' plugin" in caplog.text
    assert anyio.run(lambda: aset_properties({"stage": "x"})) is False
    with pytest.raises(TypeError, match="takes a mapping"):
        set_properties(["progress", 1.0])  # type: ignore[arg-type]
