"""The kernel's statements from sync code (enqueue, reading jobs back, job control)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from toro_core.job import Job
from toro_core.store.base import Row, SyncStore
from toro_core.store.inserts import Written, bulk_query, bulk_statement, insert_statement, missing
from toro_core.store.queries import query


class CoreSyncStore(SyncStore):
    """The kernel's statements from sync code: enqueue, reading jobs back, job control.

    Each method is the twin of :class:`CoreStore`'s of the same name."""

    def insert_job(self, params: dict[str, Any]) -> Job:
        while True:
            row = self.fetch_one(query(insert_statement(params)), params)
            if row is not None:
                return Job.from_row(row)
            held = self.fetch_one(query("find_unique"), {"unique_key": params["unique_key"]})
            if held is not None:
                return Job.from_row(held).evolve(duplicate=True)

    def insert_jobs(self, params: dict[str, Any]) -> list[int]:
        written = Written()
        statement = bulk_statement(params)
        written.add(self.fetch_one(query(bulk_query(statement)), statement))
        while True:
            ids = written.ids(params["unique_keys"])
            if ids is not None:
                return ids
            keys = [k for k in params["unique_keys"] if k is not None]
            held = self.fetch_all(query("find_unique_ids"), {"keys": keys})
            written.hold(held)
            if any(row["id"] is None for row in held):  # finished meanwhile: insert again
                written.add(
                    self.fetch_one(query("insert_jobs"), bulk_statement(missing(params, held)))
                )

    def waiting_jobs(self, class_name: str, limit: int = 1000) -> list[Job]:
        """The waiting jobs of a worker class, oldest first."""
        rows = self.fetch_all(query("waiting_jobs"), {"class_name": class_name, "limit": limit})
        return [Job.from_row(row) for row in rows]

    def get_job(self, job_id: int) -> Job | None:
        row = self.fetch_one(query("get_job"), {"id": job_id})
        return None if row is None else Job.from_json_row(row)

    def await_job(self, job_id: int, final: Sequence[str]) -> Job | None:
        row = self.fetch_one(query("await_job"), {"id": job_id, "final": list(final)})
        return None if row is None else Job.from_row(row)

    def list_jobs(
        self,
        *,
        status: str | None = None,
        queue: str | None = None,
        class_name: str | None = None,
        limit: int = 50,
    ) -> list[Job]:
        rows = self.fetch_all(
            query("list_jobs"),
            {"status": status, "queue": queue, "class_name": class_name, "limit": limit},
        )
        return [Job.from_json_row(row) for row in rows]

    def find_job_ids(
        self,
        *,
        statuses: Sequence[str],
        queue: str | None = None,
        class_name: str | None = None,
        limit: int = 10_000,
    ) -> list[int]:
        rows = self.fetch_all(
            query("find_job_ids"),
            {"statuses": list(statuses), "queue": queue, "class_name": class_name, "limit": limit},
        )
        return [row["id"] for row in rows]

    def retry_jobs(self, ids: Sequence[int], by: str) -> list[int]:
        rows = self.fetch_all(query("retry_jobs"), {"ids": list(ids), "by": by})
        return [row["id"] for row in rows]

    def cancel_jobs(self, ids: Sequence[int], by: str) -> dict[int, str]:
        rows = self.fetch_all(query("cancel_jobs"), {"ids": list(ids), "by": by})
        return {row["id"]: row["outcome"] for row in rows}

    def pause_queue(self, name: str, by: str) -> bool:
        row = self.fetch_one(query("pause_queue"), {"name": name, "by": by})
        return bool(row and row["changed"])

    def resume_queue(self, name: str) -> bool:
        row = self.fetch_one(query("resume_queue"), {"name": name})
        return bool(row and row["changed"])

    def list_queues(self) -> list[Row]:
        return self.fetch_all(query("list_queues"))

    def set_queue_limit(self, name: str, concurrency: int | None) -> None:
        """Set (``None``: clear) the concurrency limit of a queue, for every process."""
        self.fetch_all(query("set_queue_limit"), {"name": name, "concurrency": concurrency})

    def list_limits(self, limit: int | None = None) -> list[Row]:
        return self.fetch_all(query("list_limits"), {"limit": limit})

    def counts(self) -> list[Row]:
        return self.fetch_all(query("count_by_queue_status"))

    def processes(self) -> list[Row]:
        return self.fetch_all(query("list_processes"))

    def get_jobs(self, ids: Sequence[int]) -> list[Job]:
        rows = self.fetch_all(query("get_jobs"), {"ids": list(ids)})
        return [Job.from_json_row(row) for row in rows]
