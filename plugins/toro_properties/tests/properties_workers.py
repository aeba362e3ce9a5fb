"""Worker classes for the toro-properties tests (imported by worker processes with -r)."""

from __future__ import annotations

import concurrent.futures
import contextvars
import datetime
import os
import time

import anyio
import psycopg
from toro_properties import WithProperties, aset_properties, set_properties

from toro_core import Worker


def _released(job_key: str) -> bool:
    with psycopg.connect(os.environ["TORO_DATABASE_URL"], autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM test_release WHERE key = %s", (job_key,)).fetchone()
        return row is not None


class ReturnsFoo(Worker):
    """The seed's spec: returns job properties foo = bar."""

    def perform(self) -> dict[str, object]:
        return {"job_properties": {"foo": "bar"}}


class FromOwnThread(Worker):
    """Sets properties from a thread it starts itself, run in a copy of its context."""

    def perform(self) -> dict[str, object]:
        context = contextvars.copy_context()
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            written = pool.submit(context.run, set_properties, from_thread=True).result()
        return {"job_properties": {"written_at_once": written}}


class CountsComments(Worker):
    """Returns nested properties of every JSON type."""

    async def perform(self, user_id: int, comments: int, private: bool) -> dict[str, object]:
        return {
            "job_properties": {
                "user_id": user_id,
                "comments_count": comments,
                "ratio": comments / 4,
                "user": {"id": user_id, "timeline": {"is_private": private}},
                "comment_ids": list(range(comments % 5)),
                "note": None,
            },
            "other": "not stored",
        }


class SyncProgress(WithProperties, Worker):
    """Reports progress from a sync perform, then waits until the test releases it."""

    def perform(self, key: str) -> dict[str, object]:
        self.set_properties(progress=0.5, stage="halfway")
        deadline = time.monotonic() + 20
        while not _released(key) and time.monotonic() < deadline:
            time.sleep(0.05)
        set_properties({"stage:last": "done"}, progress=1.0)
        return {"job_properties": {"rows": 10}}


class AsyncProgress(Worker):
    """Reports progress from an async perform, then waits until the test releases it."""

    async def perform(self, key: str) -> dict[str, object]:
        written = await aset_properties(progress=0.25)
        assert written
        deadline = time.monotonic() + 20
        while not await anyio.to_thread.run_sync(_released, key) and time.monotonic() < deadline:
            await anyio.sleep(0.05)
        return {"job_properties": {"done": True}}


class ReturnsOddValues(Worker):
    """Returns some values that JSON cannot hold next to good ones."""

    def perform(self) -> dict[str, object]:
        outcome = set_properties(
            started=True, started_at=datetime.datetime(2026, 1, 2, tzinfo=datetime.UTC)
        )
        return {
            "job_properties": {
                "good": "kept",
                "when": datetime.date(2026, 1, 2),
                "tags": {"a", "b"},
                "nested": {"ok": 1, "bad": float("nan")},
                "live_write_returned": outcome,
            }
        }


class ReturnsNotAMapping(Worker):
    def perform(self) -> dict[str, object]:
        return {"job_properties": ["not", "a", "mapping"]}


class SyncCallInAsync(Worker):
    """Calls the blocking API from async code: a programming error, reported by the job."""

    async def perform(self) -> None:
        set_properties(progress=0.1)


class ProcessesUser(Worker):
    """Records the user it works for at once, so even a failed job is associated with it."""

    def perform(self, user_id: int, fail: bool) -> dict[str, object]:
        set_properties(user_id=user_id)
        if fail:
            raise RuntimeError(f"could not process user {user_id}")
        return {"job_properties": {"comments_count": user_id * 10}}


class ReturnsCount(Worker):
    """Returns whatever comments_count it is given (for the index guard)."""

    def perform(self, count: object) -> dict[str, object]:
        return {"job_properties": {"comments_count": count, "other": "kept"}}
