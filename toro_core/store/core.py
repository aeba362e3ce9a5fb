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
from typing import Any, NamedTuple

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

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
    #: JSON text of what perform returned, stored in ``result`` (``None``: left as it is).
    result: str | None = None
    #: A write of it failed midway: it may have committed with its answer lost.
    tried: bool = False

    @property
    def plain(self) -> bool:
        """No properties to merge, no new due time and no result: written by the lighter
        statement."""
        return self.patch == "{}" and self.scheduled_at is None and self.result is None


class Recovery(NamedTuple):
    """What one run of :meth:`CoreStore.recover` did."""

    #: Processes declared dead (removed from the registry).
    dead_processes: int
    #: Jobs put back to queued (or cancelled, when a cancel was asked).
    recovered_jobs: int
    #: Jobs failed instead: their worker died under them ``max_recoveries`` times.
    failed_ids: list[int]


#: A prune's keyset cursor: the ``(finished_at, id)`` of the last job a batch deleted.
PruneCursor = tuple[datetime, int]


class PruneBatch(NamedTuple):
    """What one batch of :meth:`CoreStore.prune_batch` did."""

    #: Whether it held the prune lock (when not, another process was pruning: nothing done).
    locked: bool
    #: Jobs deleted.
    deleted: int
    #: Where the next batch of the same status starts (``None`` when nothing was deleted).
    cursor: PruneCursor | None


class CoreStore(Store):
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
            row = await self.fetch_one(query(_insert_statement(params)), params)
            if row is not None:
                return Job.from_row(row)
            held = await self.fetch_one(query("find_unique"), {"unique_key": params["unique_key"]})
            if held is not None:
                return Job.from_row(held).evolve(duplicate=True)

    async def insert_jobs(self, params: dict[str, Any]) -> list[int]:
        """Insert the jobs of :func:`toro_core.client.bulk_params` in one statement; return
        the id of each input row (for a unique duplicate, the id of the job holding its key)."""
        written = await self.fetch_all(query("insert_jobs"), params)
        while True:
            ids = _bulk_ids(params, written)
            if ids is not None:
                return ids
            keys = [k for k in params["unique_keys"] if k is not None]
            held = await self.fetch_all(query("find_unique_ids"), {"keys": keys})
            written.extend(
                {"id": row["id"], "unique_key": row["key"]} for row in held if row["id"] is not None
            )
            if any(row["id"] is None for row in held):  # finished meanwhile: insert again
                written.extend(await self.fetch_all(query("insert_jobs"), _missing(params, held)))

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
    ) -> list[Job]:
        """Claim up to ``limit`` queued jobs of ``queues`` after the keyset cursor ``after``
        (``(-priority, id)``), of queues not paused, within their limits (limited jobs that
        cannot run now are parked, see the SQL); return them in claim order (highest priority
        first, then oldest).

        Each job's JSON is read on its own (:meth:`Job.from_json_row`): a row that cannot be
        read comes back with ``undecodable`` set, for the executor to fail, and never breaks
        the claim of the others."""
        rows = await self.fetch_all(
            query("claim_jobs"),
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
        jobs = [Job.from_json_row(row) for row in rows]
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
                rows = await fetch_all(
                    conn,
                    query("finish_jobs_plain"),
                    {
                        "relaxed": self.relaxed_commit,
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

    async def waiting_queues(self) -> list[str]:
        """The queues that have jobs waiting (queued, blocked or scheduled)."""
        return sorted(row["queue"] for row in await self.fetch_all(query("waiting_queues")))

    async def promote_scheduled(self, queues: Sequence[str]) -> int:
        """Queue every scheduled job of ``queues`` now, due or not; return how many."""
        row = await self.fetch_one(query("promote_scheduled"), {"queues": list(queues)})
        return int(row["promoted"]) if row else 0

    async def claim_job(self, job_id: int, *, owner: str, started_by: str) -> Job | None:
        """Claim one waiting job by id, whatever its queue, limits or time (inline mode)."""
        row = await self.fetch_one(
            query("claim_job"), {"id": job_id, "owner": owner, "started_by": started_by}
        )
        return None if row is None else Job.from_json_row(row)

    async def unblock(self) -> int:
        """Queue again jobs blocked on a limit that has free slots; return how many."""
        row = await self.fetch_one(query("unblock_jobs"))
        return int(row["unblocked"]) if row else 0

    async def list_limits(self, limit: int | None = None) -> list[Row]:
        """Every limit (at most ``limit``; queues' first, then by key): ``key``,
        ``concurrency``, ``rate``, ``per_seconds``, ``running``, ``blocked``,
        ``recent_starts``."""
        return await self.fetch_all(query("list_limits"), {"limit": limit})

    async def limits_for(self, keys: Sequence[str]) -> list[Row]:
        """The limits of ``keys`` that exist, with the columns of :meth:`list_limits`."""
        return await self.fetch_all(query("limits_for"), {"keys": list(keys)})

    async def promote_due(self, limit: int) -> int:
        """Move up to ``limit`` due scheduled jobs to queued; return how many."""
        row = await self.fetch_one(query("promote_due"), {"limit": limit})
        return int(row["promoted"]) if row else 0

    # ---------------------------------------------------------------- retention

    async def prune_batch(
        self,
        *,
        status: str,
        keep: float,
        after: PruneCursor | None,
        limit: int,
        lock: int,
        timeout: float,
    ) -> PruneBatch:
        """Delete up to ``limit`` jobs in ``status`` that finished more than ``keep`` seconds
        ago, oldest first after the cursor ``after`` (``None``: from the oldest), in one
        transaction that holds the transaction-level advisory lock ``lock`` (nothing is
        deleted when another transaction holds it), whose statements are cancelled after
        ``timeout`` seconds (``DatabaseUnavailable``) and whose commit does not wait for the
        WAL flush."""
        async with self.transaction() as conn:
            await fetch_all(conn, query("prune_settings"), {"timeout_ms": str(int(timeout * 1000))})
            rows = await fetch_all(
                conn,
                query("prune_jobs"),
                {
                    "lock": lock,
                    "status": status,
                    "keep": keep,
                    "after_at": after[0] if after else "-infinity",
                    "after_id": after[1] if after else 0,
                    "limit": limit,
                },
            )
        row = rows[0]
        cursor = (row["last_at"], row["last_id"]) if row["last_id"] is not None else None
        return PruneBatch(bool(row["locked"]), int(row["deleted"]), cursor)

    async def count_prunable(self, status: str, keep: float) -> int:
        """How many jobs in ``status`` finished more than ``keep`` seconds ago."""
        row = await self.fetch_one(query("count_prunable"), {"status": status, "keep": keep})
        return int(row["jobs"]) if row else 0

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

    async def recover(self, dead_after: float, max_recoveries: int) -> Recovery:
        """Remove processes silent for ``dead_after`` seconds and requeue the running jobs no
        live process holds; those whose worker died under them ``max_recoveries`` times end
        failed instead."""
        row = await self.fetch_one(
            query("recover_jobs"), {"dead_after": dead_after, "max_recoveries": max_recoveries}
        )
        if row is None:
            return Recovery(0, 0, [])
        return Recovery(
            int(row["dead_processes"]), int(row["recovered_jobs"]), list(row["failed_ids"])
        )


class CoreSyncStore(SyncStore):
    """The kernel's statements from sync code: enqueue, reading jobs back, job control.

    Each method is the twin of :class:`CoreStore`'s of the same name."""

    def insert_job(self, params: dict[str, Any]) -> Job:
        while True:
            row = self.fetch_one(query(_insert_statement(params)), params)
            if row is not None:
                return Job.from_row(row)
            held = self.fetch_one(query("find_unique"), {"unique_key": params["unique_key"]})
            if held is not None:
                return Job.from_row(held).evolve(duplicate=True)

    def insert_jobs(self, params: dict[str, Any]) -> list[int]:
        written = self.fetch_all(query("insert_jobs"), params)
        while True:
            ids = _bulk_ids(params, written)
            if ids is not None:
                return ids
            keys = [k for k in params["unique_keys"] if k is not None]
            held = self.fetch_all(query("find_unique_ids"), {"keys": keys})
            written.extend(
                {"id": row["id"], "unique_key": row["key"]} for row in held if row["id"] is not None
            )
            if any(row["id"] is None for row in held):
                written.extend(self.fetch_all(query("insert_jobs"), _missing(params, held)))

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


def _bulk_ids(params: dict[str, Any], written: Sequence[Row]) -> list[int] | None:
    """The id of each input row of a bulk insert, from the rows written (or found holding
    their unique key); ``None`` while a unique row's job is still unknown."""
    by_key = {row["unique_key"]: row["id"] for row in written if row["unique_key"] is not None}
    plain = iter(row["id"] for row in written if row["unique_key"] is None)
    ids: list[int] = []
    for key in params["unique_keys"]:
        if key is None:
            ids.append(next(plain))
        elif key in by_key:
            ids.append(by_key[key])
        else:
            return None
    return ids


def _missing(params: dict[str, Any], held: Sequence[Row]) -> dict[str, Any]:
    """The bulk parameters of the rows whose key no job holds any more (to insert again)."""
    free = {row["key"] for row in held if row["id"] is None}
    keep = [i for i, key in enumerate(params["unique_keys"]) if key in free]
    columns = ("args", "kwargs", "names", "unique_keys", "limit_keys")
    return {**params, **{c: [params[c][i] for i in keep] for c in columns}}


def _insert_statement(params: dict[str, Any]) -> str:
    """``insert_job``, or its lighter twin for a job with no unique key and no limit."""
    plain = params["unique_key"] is None and params["limit_key"] is None
    return "insert_job_plain" if plain else "insert_job"
