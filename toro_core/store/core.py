"""The kernel's operations on ``toro_jobs`` and ``toro_processes``, one typed method each.

Every statement the kernel runs on its own tables is a method here (async: :class:`CoreStore`;
sync enqueue: :class:`CoreSyncStore`), its SQL a named block of ``queries.sql``. The worker
process, the clients, the registry and the command line call these; nothing else in the kernel
builds SQL for these tables. Plugins may call them too (the monitor lists processes through
:meth:`CoreStore.processes`, toro-properties writes live properties through
:meth:`CoreStore.set_running_properties`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from toro_core.job import Job
from toro_core.store.base import Row, Store, SyncStore, fetch_all
from toro_core.store.queries import query


@dataclasses.dataclass(slots=True)
class PendingOutcome:
    """One finished attempt, ready to be written by :meth:`CoreStore.finish`."""

    id: int
    attempt: int
    #: The registry id the attempt was claimed under (the holder half of the fencing token).
    owner: str
    status: str
    duration: float
    scheduled_at: datetime | None
    #: JSON object text merged into the row's properties (``"{}"`` for none).
    patch: str
    #: A write of it failed midway: it may have committed with its answer lost.
    tried: bool = False

    @property
    def plain(self) -> bool:
        """No properties to merge and no new due time: written by the lighter statement."""
        return self.patch == "{}" and self.scheduled_at is None


class CoreStore(Store):
    """The kernel's statements from async code (the worker process, the async client)."""

    # ---------------------------------------------------------------- enqueue and read

    async def insert_job(self, params: dict[str, Any]) -> Job:
        """Insert one job from :func:`toro_core.client.job_params`; return it."""
        row = await self.fetch_one(query("insert_job"), params)
        assert row is not None
        return Job.from_row(row)

    async def insert_jobs(self, params: dict[str, Any]) -> list[int]:
        """Insert the jobs of :func:`toro_core.client.bulk_params` in one statement."""
        return [row["id"] for row in await self.fetch_all(query("insert_jobs"), params)]

    async def get_job(self, job_id: int) -> Job | None:
        row = await self.fetch_one(query("get_job"), {"id": job_id})
        return None if row is None else Job.from_row(row)

    async def get_jobs(self, ids: Sequence[int]) -> list[Job]:
        """The jobs with these ids, in id order (missing ids are left out)."""
        rows = await self.fetch_all(query("get_jobs"), {"ids": list(ids)})
        return [Job.from_row(row) for row in rows]

    async def counts(self) -> list[Row]:
        """``{queue, status, jobs}`` for every queue and status that has jobs."""
        return await self.fetch_all(query("count_by_queue_status"))

    async def processes(self) -> list[Row]:
        """The live process table, each row with the ids of its running jobs (``running``)."""
        return await self.fetch_all(query("list_processes"))

    async def schema_ready(self) -> bool:
        row = await self.fetch_one(query("schema_ready"))
        return bool(row and next(iter(row.values())))

    # ---------------------------------------------------------------- claiming and outcomes

    async def claim(
        self, *, queues: Sequence[str], after: int, limit: int, owner: str, started_by: str
    ) -> list[Job]:
        """Claim up to ``limit`` queued jobs of ``queues`` with ids above ``after``, id order."""
        name = "claim_jobs_one_queue" if len(queues) == 1 else "claim_jobs"
        rows = await self.fetch_all(
            query(name),
            {
                "queue": queues[0],
                "queues": list(queues),
                "after": after,
                "limit": limit,
                "owner": owner,
                "started_by": started_by,
            },
        )
        jobs = [Job.from_row(row) for row in rows]
        jobs.sort(key=lambda job: job.id)
        return jobs

    async def finish(self, owner: str, items: Sequence[PendingOutcome]) -> set[int]:
        """Write the outcomes of attempts claimed under ``owner`` in one transaction.

        Fenced: an outcome is written only while its job still runs under the same holder and
        attempt. Returns the ids written; the others were refused.
        """
        plain: dict[str, list[PendingOutcome]] = {}
        rich: list[PendingOutcome] = []
        for item in items:
            if item.plain:
                plain.setdefault(item.status, []).append(item)
            else:
                rich.append(item)
        accepted: set[int] = set()
        async with self.transaction() as conn:
            for status, group in plain.items():
                rows = await fetch_all(
                    conn,
                    query("finish_jobs_plain"),
                    {
                        "owner": owner,
                        "status": status,
                        "ids": [o.id for o in group],
                        "attempts": [o.attempt for o in group],
                        "durations": [o.duration for o in group],
                    },
                )
                accepted.update(row["id"] for row in rows)
            if rich:
                rows = await fetch_all(
                    conn,
                    query("finish_jobs"),
                    {
                        "owner": owner,
                        "ids": [o.id for o in rich],
                        "attempts": [o.attempt for o in rich],
                        "statuses": [o.status for o in rich],
                        "durations": [o.duration for o in rich],
                        "scheduled": [o.scheduled_at for o in rich],
                        "patches": [o.patch for o in rich],
                    },
                )
                accepted.update(row["id"] for row in rows)
        return accepted

    async def outcomes_written_before(self, items: Sequence[PendingOutcome]) -> set[int]:
        """Of ``items``, those whose row already shows their attempt's outcome and no holder
        (an earlier write committed but its answer was lost with the connection)."""
        rows = await self.fetch_all(
            query("outcomes_written_before"),
            {
                "ids": [o.id for o in items],
                "attempts": [o.attempt for o in items],
                "statuses": [o.status for o in items],
            },
        )
        return {row["id"] for row in rows}

    async def requeue(self, owner: str, ids: Sequence[int], started_by: str) -> int:
        """Put jobs held under ``owner`` back to queued (graceful stop); return how many."""
        rows = await self.fetch_all(
            query("requeue_jobs"), {"ids": list(ids), "owner": owner, "started_by": started_by}
        )
        return len(rows)

    async def release_unknown(self, owner: str, known: Sequence[int]) -> list[int]:
        """Requeue jobs held under ``owner`` other than ``known``; return their ids."""
        rows = await self.fetch_all(
            query("release_unknown_jobs"), {"owner": owner, "known": list(known)}
        )
        return [row["id"] for row in rows]

    async def set_running_properties(
        self, *, job_id: int, attempt: int, holder: str, patch: str
    ) -> bool:
        """Merge ``patch`` (JSON object text) into a running job's properties now, fenced on
        the attempt's token; ``False`` when the holder no longer holds the job."""
        row = await self.fetch_one(
            query("set_running_properties"),
            {"patch": patch, "id": job_id, "attempt": attempt, "holder": holder},
        )
        return row is not None

    # ---------------------------------------------------------------- maintenance

    async def promote_due(self, limit: int) -> int:
        """Move up to ``limit`` due scheduled jobs to queued; return how many."""
        row = await self.fetch_one(query("promote_due"), {"limit": limit})
        return int(row["promoted"]) if row else 0

    async def retry_failed(self, ids: Sequence[int], by: str) -> list[int]:
        """Queue failed jobs again, keeping their last error in ``retried:history``; return
        the ids that were failed (the others are left alone)."""
        rows = await self.fetch_all(query("retry_failed"), {"ids": list(ids), "by": by})
        return [row["id"] for row in rows]

    # ---------------------------------------------------------------- the process registry

    async def register_process(
        self,
        *,
        process_id: str,
        host: str,
        pid: int,
        queues: Sequence[str],
        concurrency: int,
        meta: dict[str, Any],
    ) -> None:
        await self.execute(
            query("register_process"),
            {
                "id": process_id,
                "host": host,
                "pid": pid,
                "queues": list(queues),
                "concurrency": concurrency,
                "meta": Jsonb(meta),
            },
        )

    async def heartbeat(self, process_id: str) -> bool:
        """Refresh the heartbeat; ``False`` when the process had been declared dead."""
        return await self.fetch_one(query("heartbeat"), {"id": process_id}) is not None

    async def deregister_process(self, process_id: str) -> None:
        await self.execute(query("deregister_process"), {"id": process_id})

    async def recover(self, dead_after: float) -> tuple[int, int]:
        """Remove processes silent for ``dead_after`` seconds and requeue the running jobs no
        live process holds; return ``(dead processes, recovered jobs)``."""
        row = await self.fetch_one(query("recover_jobs"), {"dead_after": dead_after})
        return (int(row["dead_processes"]), int(row["recovered_jobs"])) if row else (0, 0)


class CoreSyncStore(SyncStore):
    """The kernel's statements from sync code: enqueue and reading jobs back."""

    def insert_job(self, params: dict[str, Any]) -> Job:
        row = self.fetch_one(query("insert_job"), params)
        assert row is not None
        return Job.from_row(row)

    def insert_jobs(self, params: dict[str, Any]) -> list[int]:
        return [row["id"] for row in self.fetch_all(query("insert_jobs"), params)]

    def get_jobs(self, ids: Sequence[int]) -> list[Job]:
        return [Job.from_row(row) for row in self.fetch_all(query("get_jobs"), {"ids": list(ids)})]
