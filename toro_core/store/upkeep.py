"""The worker process's upkeep statements: the process registry and recovery, promotion of due
and unblocked jobs, limits read back, and retention. :class:`~toro_core.store.CoreStore` has
them all (this class is its base)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg.types.json import Jsonb

from toro_core.job import Job
from toro_core.store.base import Row, Store, fetch_all
from toro_core.store.queries import query
from toro_core.store.records import PruneBatch, PruneCursor, Recovery


class UpkeepStatements(Store):
    """See the module docstring."""

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
