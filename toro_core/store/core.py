"""The kernel's operations on ``toro_jobs`` and ``toro_processes``, one typed method each.

Every statement the kernel runs on its own tables is a method of :class:`CoreStore` (async; the
worker's upkeep statements come from its base in :mod:`.upkeep`) or of its sync twin
:class:`~toro_core.store.sync.CoreSyncStore`, its SQL a named block of ``queries.sql``. The worker
process, the clients, the registry and the command line call these; nothing else in the kernel
builds SQL for these tables. Plugins may call them too (the monitor lists processes through
:meth:`CoreStore.processes`, toro-properties writes live properties through
:meth:`CoreStore.set_running_properties`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from toro_core.job import Job
from toro_core.store.base import Row, fetch_all, fetch_column
from toro_core.store.claims import plain_claim
from toro_core.store.inserts import Written, bulk_query, bulk_statement, insert_statement, missing
from toro_core.store.literals import float_array, int_array
from toro_core.store.queries import query
from toro_core.store.records import PendingOutcome
from toro_core.store.upkeep import UpkeepStatements


class CoreStore(UpkeepStatements):
    """The kernel's statements from async code (the worker process, the async client).

    With ``relaxed_commit`` claims and outcomes turn ``synchronous_commit`` off for their own
    transaction inside their statement (no round trip more), for connections that cannot keep
    a session ``SET`` (PgBouncer in transaction mode); other stores leave the session's value.
    """

    def __init__(
        self,
        pool: AsyncConnectionPool[Any] | None = None,
        *,
        connection: psycopg.AsyncConnection[Any] | None = None,
        relaxed_commit: bool = False,
    ) -> None:
        super().__init__(pool, connection=connection)
        self.relaxed_commit = relaxed_commit

    # ---------------------------------------------------------------- enqueue and read

    async def insert_job(self, params: dict[str, Any]) -> Job:
        """Insert one job from :func:`toro_core.client.job_params`; return it.

        A unique job whose key a waiting or running job holds is not written: that job is
        returned, marked ``duplicate``. (If it finishes in between, the insert is tried again.)
        """
        while True:
            row = await self.fetch_one(query(insert_statement(params)), params)
            if row is not None:
                return Job.from_row(row)
            held = await self.fetch_one(query("find_unique"), {"unique_key": params["unique_key"]})
            if held is not None:
                return Job.from_row(held).evolve(duplicate=True)

    async def insert_jobs(self, params: dict[str, Any]) -> list[int]:
        """Insert the jobs of :func:`toro_core.client.bulk_params` in one statement; return
        the id of each input row (for a unique duplicate, the id of the job holding its key)."""
        written = Written()
        statement = bulk_statement(params)
        written.add(await self.fetch_one(query(bulk_query(statement)), statement))
        while True:
            ids = written.ids(params["unique_keys"])
            if ids is not None:
                return ids
            keys = [k for k in params["unique_keys"] if k is not None]
            held = await self.fetch_all(query("find_unique_ids"), {"keys": keys})
            written.hold(held)
            if any(row["id"] is None for row in held):  # finished meanwhile: insert again
                written.add(
                    await self.fetch_one(
                        query("insert_jobs"), bulk_statement(missing(params, held))
                    )
                )

    async def get_job(self, job_id: int) -> Job | None:
        """One job by id; a row that cannot be read comes back with ``undecodable`` set."""
        row = await self.fetch_one(query("get_job"), {"id": job_id})
        return None if row is None else Job.from_json_row(row)

    async def get_jobs(self, ids: Sequence[int]) -> list[Job]:
        """The jobs with these ids, in id order (missing ids are left out)."""
        rows = await self.fetch_all(query("get_jobs"), {"ids": list(ids)})
        return [Job.from_json_row(row) for row in rows]

    async def await_job(self, job_id: int, final: Sequence[str]) -> Job | None:
        """Mark a job not in one of the ``final`` statuses as awaited (its outcome writes then
        NOTIFY ``toro_finished_<id>``) and return it; ``None`` when it is final already or
        missing (read it with :meth:`get_job`)."""
        row = await self.fetch_one(query("await_job"), {"id": job_id, "final": list(final)})
        return None if row is None else Job.from_row(row)

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
        self,
        *,
        queues: Sequence[str],
        after: tuple[int, int],
        limit: int,
        owner: str,
        started_by: str,
        plain: bool = True,
    ) -> list[Job] | None:
        """Claim up to ``limit`` queued jobs of ``queues`` after the keyset cursor ``after``
        (``(-priority, id)``), of queues not paused, within their limits (limited jobs that
        cannot run now are parked, see the SQL); return them in claim order (highest priority
        first, then oldest).

        With ``plain`` (the common case) the lighter statement that knows no limits is tried:
        it claims nothing when a limit is in play for the jobs it would take, and then this
        returns ``None`` (call again with ``plain=False``).

        Each job's JSON is read on its own (:meth:`Job.from_claim_row`): a row that cannot be
        read comes back with ``undecodable`` set, for the executor to fail, and never breaks
        the claim of the others."""
        rows = await self.fetch_tuples(
            plain_claim(limit) if plain else query("claim_jobs"),
            {
                "queue": queues[0],
                "queues": list(queues),
                "after_rank": after[0],
                "after": after[1],
                "limit": limit,
                "owner": owner,
                "started_by": started_by,
                "relaxed": self.relaxed_commit,
            },
        )
        if plain and rows and rows[-1][0] is None:
            return None  # a limit is in play: claim_jobs decides (the row's id is NULL)
        jobs = [Job.from_claim_row(row) for row in rows]
        jobs.sort(key=lambda job: (-job.priority, job.id))
        return jobs

    async def finish(self, owner: str, items: Sequence[PendingOutcome]) -> set[int]:
        """Write the outcomes of attempts claimed under ``owner`` in one transaction (one
        statement for a batch of one kind, the common case).

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
        # one statement needs no transaction of its own (BEGIN and COMMIT are two round trips)
        single = len(plain) + bool(rich) == 1
        async with self.connection() if single else self.transaction() as conn:
            for status, group in plain.items():
                written = await fetch_column(
                    conn,
                    query("finish_jobs_plain"),
                    {
                        "relaxed": self.relaxed_commit,
                        "owner": owner,
                        "status": status,
                        "ids": int_array(o.id for o in group),
                        "attempts": int_array(o.attempt for o in group),
                        "durations": float_array(o.duration for o in group),
                    },
                )
                accepted.update(written)
            if rich:
                rows = await fetch_all(
                    conn,
                    query("finish_jobs"),
                    {
                        "relaxed": self.relaxed_commit,
                        "owner": owner,
                        "ids": [o.id for o in rich],
                        "attempts": [o.attempt for o in rich],
                        "statuses": [o.status for o in rich],
                        "durations": [o.duration for o in rich],
                        "scheduled": [o.scheduled_at for o in rich],
                        "patches": [o.patch for o in rich],
                        "results": [o.result for o in rich],
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

    async def release_unstarted(self, owner: str, jobs: Sequence[Job]) -> list[int]:
        """Queue again jobs claimed under ``owner`` that were never started, taking back the
        attempt their claim counted; return the ids given back."""
        rows = await self.fetch_all(
            query("release_unstarted_jobs"),
            {"ids": [j.id for j in jobs], "attempts": [j.attempt for j in jobs], "owner": owner},
        )
        return [row["id"] for row in rows]

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

    # ---------------------------------------------------------------- job control

    async def retry_jobs(self, ids: Sequence[int], by: str) -> list[int]:
        """Queue failed or cancelled jobs again, keeping their last error in
        ``retried:history``; return the ids queued (the others are left alone)."""
        rows = await self.fetch_all(query("retry_jobs"), {"ids": list(ids), "by": by})
        return [row["id"] for row in rows]

    async def cancel_jobs(self, ids: Sequence[int], by: str) -> dict[int, str]:
        """Cancel jobs; ``{id: 'cancelled' | 'requested' | <final status>}`` for those found."""
        rows = await self.fetch_all(query("cancel_jobs"), {"ids": list(ids), "by": by})
        return {row["id"]: row["outcome"] for row in rows}

    async def cancel_requested(self, owner: str) -> list[int]:
        """Ids of the running jobs held by ``owner`` that someone asked to cancel."""
        rows = await self.fetch_all(query("cancel_requested"), {"owner": owner})
        return [row["id"] for row in rows]

    async def find_job_ids(
        self,
        *,
        statuses: Sequence[str],
        queue: str | None = None,
        class_name: str | None = None,
        limit: int = 10_000,
    ) -> list[int]:
        """Ids of jobs in ``statuses`` matching the filters, newest first."""
        rows = await self.fetch_all(
            query("find_job_ids"),
            {"statuses": list(statuses), "queue": queue, "class_name": class_name, "limit": limit},
        )
        return [row["id"] for row in rows]

    async def pause_queue(self, name: str, by: str) -> bool:
        """Pause a queue; ``False`` when it was paused already."""
        row = await self.fetch_one(query("pause_queue"), {"name": name, "by": by})
        return bool(row and row["changed"])

    async def resume_queue(self, name: str) -> bool:
        """Resume a queue; ``False`` when it was not paused."""
        row = await self.fetch_one(query("resume_queue"), {"name": name})
        return bool(row and row["changed"])

    async def list_queues(self) -> list[Row]:
        """Every known queue: ``name``, ``paused_at``, ``paused_by``, ``processes``, ``slots``."""
        return await self.fetch_all(query("list_queues"))

    async def queue_states(self) -> list[Row]:
        """The queues with a row in ``toro_queues``: ``name``, ``paused_at`` (``None`` when
        running), ``paused_by``; reads no job (the monitor's Queues page polls it)."""
        return await self.fetch_all(query("queue_states"))
