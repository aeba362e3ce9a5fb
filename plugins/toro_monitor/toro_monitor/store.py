"""All the monitor's database access: read-mostly queries that stay fast on large tables.

The store owns an async connection pool that opens on first use (a mounted app gets no
lifespan events) and closes with :meth:`MonitorStore.close`.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from toro_core.plugin import Connections, CoreStore, load_queries
from toro_monitor import jobquery, loaders, queues
from toro_monitor.control import BulkAction, BulkResult
from toro_monitor.cursor import Cursor
from toro_monitor.jobquery import JobQuery
from toro_monitor.limits import ARGS_PREVIEW, LIST_TEXT
from toro_monitor.options import MonitorOptions

#: Up to this many matching jobs, the jobs list collects them before sorting (see list_jobs_few).
FEW_MATCHES = 2000
#: Most groups ((status, queue, class) present) a page reads one by one (about 20 us each);
#: past it, a list in an indexed order is windowed (sorted among the newest jobs) on a large
#: table, and left to the planner on a small one.
MAX_GROUPS = 2000
#: Text columns are selected cut one character past what lists show, so a page knows which
#: values were cut.
CUTS = {"cut": LIST_TEXT + 1, "args_cut": ARGS_PREVIEW + 1}


#: A group of the monitor's index: (status, queue, class_name) of jobs at rest.
Group = tuple[str, str, str]


def _group_arrays(groups: Sequence[Group]) -> dict[str, list[str]]:
    """``groups`` as the three arrays the grouped queries take."""
    return {
        "g_status": [g[0] for g in groups],
        "g_queue": [g[1] for g in groups],
        "g_class": [g[2] for g in groups],
    }


def q(name: str) -> str:
    return load_queries("toro_monitor.sql")[name]


@dataclasses.dataclass(frozen=True)
class Count:
    """A number of jobs, exact or estimated."""

    value: int
    exact: bool

    def __str__(self) -> str:
        return f"{self.value:,}" if self.exact else f"~{self.value:,}"


@dataclasses.dataclass(frozen=True)
class JobPage:
    rows: list[dict[str, Any]]
    total: Count
    #: Cursor of the next page, or ``None`` on the last page.
    next_after: Cursor | None
    #: How many of the newest jobs were looked at, when the query was windowed.
    window: int | None


@dataclasses.dataclass(frozen=True)
class Histogram:
    """Jobs per queue and status; ``exact[status]`` says whether that status was counted."""

    counts: dict[str, dict[str, int]]
    exact: dict[str, bool]

    def queues(self) -> list[str]:
        return sorted(self.counts)


class MonitorStore:
    """The monitor's statements, on a pool of its own to the app's database.

    Every statement is cut off after ``options.statement_timeout`` milliseconds, and runs
    without JIT compilation: the monitor's statements read little, but on a table of millions
    of rows the planner's estimates for some (a join on ``generate_series``, a block sample)
    pass ``jit_above_cost``, and compiling them took 100 ms and more of a page's time that the
    queries themselves did not need. Both are startup options of each connection, or behind
    PgBouncer in transaction mode (which refuses startup options and keeps no session)
    ``SET LOCAL``s in a transaction around each use of a connection.
    """

    def __init__(self, connections: Connections, options: MonitorOptions) -> None:
        self.connections = connections
        self.conninfo = connections.url
        self.options = options
        self._pool: AsyncConnectionPool | None = None
        self._lock = asyncio.Lock()

    async def _open(self) -> AsyncConnectionPool:
        async with self._lock:
            if self._pool is None:
                kwargs: dict[str, Any] = {
                    "autocommit": True,
                    "row_factory": dict_row,
                    # custom plans only: a generic plan cannot see that a filter value is
                    # rare and walks the whole table for it
                    "prepare_threshold": None,
                }
                if not self.connections.transaction_pooled:
                    kwargs["options"] = f"-c statement_timeout={self._timeout} -c jit=off"
                pool = AsyncConnectionPool(
                    self.conninfo,
                    min_size=1,
                    max_size=self.options.pool_size,
                    kwargs=kwargs,
                    configure=self._configure,
                    open=False,
                )
                await pool.open()
                self._pool = pool
            return self._pool

    @staticmethod
    async def _configure(conn: psycopg.AsyncConnection[Any]) -> None:
        loaders.configure(conn)

    async def core(self) -> CoreStore:
        """The kernel's operations, on the monitor's pool."""
        return CoreStore(self._pool or await self._open())

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    @property
    def _timeout(self) -> int:
        return int(self.options.statement_timeout)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A connection of the pool whose statements obey the statement timeout."""
        pool = self._pool or await self._open()
        async with pool.connection() as conn:
            if not self.connections.transaction_pooled:
                yield conn
                return
            async with conn.transaction():
                await conn.execute(q("local_settings"), {"timeout": str(self._timeout)})
                yield conn

    async def _all(self, query: str | sql.Composable, params: Any = None) -> list[dict[str, Any]]:
        async with self.connection() as conn:
            cursor = await conn.execute(query, params)  # type: ignore[arg-type]
            return await cursor.fetchall()

    # ------------------------------------------------------------------ jobs list

    async def table_size(self) -> tuple[int, int]:
        """``(estimated rows, highest id)`` of toro_jobs; the estimate falls back to the highest
        id while the table has never been analysed."""
        row = (await self._all(q("table_size")))[0]
        max_id = int(row["max_id"] or 0)
        estimate = int(row["estimate"])
        return (estimate if estimate >= 0 else max_id), max_id

    async def list_jobs(self, query: JobQuery) -> JobPage:
        estimate, max_id = await self.table_size()
        # an indexed order with filters (or by a key of the groups) reads the groups' ranges
        grouped = (
            not query.windowed
            and query.status != "running"
            and bool(query.filters() or query.key.group_column is not None)
        )
        groups = await self.groups(query, limit=MAX_GROUPS + 1) if grouped else None
        if groups is not None and len(groups) > MAX_GROUPS:
            groups = None
        window = None
        if query.windowed or (grouped and groups is None):
            # past MAX_GROUPS groups, an indexed order is windowed too: its cost stays bounded
            size = self.options.search_window if query.search else self.options.sort_window
            if query.search and not query.key.indexed:
                size = min(size, self.options.sort_window)
            if max(estimate, max_id) > size:
                window = size
        floor = max_id - window if window is not None else None
        where, params = jobquery.filter_sql(query, floor)
        # without a status filter, the jobs at rest and the running ones are read apart (the
        # monitor's index leaves running jobs out) and merged: see queries.sql
        split = "_split" if query.status is None else ""
        page_size = self.options.page_size
        order = jobquery.order_sql(query)
        keyset, keyset_params = jobquery.keyset_sql(query)
        matching: sql.Composable
        if groups is not None:
            # an indexed order with filters: each group's range of the index, merged
            total = await self._count_grouped(groups, where, params, bool(split))
            parts = jobquery.grouped_sql(query)
            matching = sql.SQL(q("list_rows_grouped")).format(
                bound=parts.bound,
                group_filter=parts.group_filter,
                group_order=parts.group_order,
                direction=parts.direction,
            )
            extra = {**_group_arrays(groups), **parts.params, **keyset_params}
        else:
            total = await self._count(where, params, split)
            # Few matches: collect them, then sort. Many: let the planner walk an index in
            # order (dense matches are met early). The bound keeps the sort of the collected
            # rows cheap.
            few = total.exact and total.value <= FEW_MATCHES and bool(query.filters())
            # running jobs are few (the processes' slots) wherever their ids are: collected
            few = few or query.status == "running"
            at_rest = sql.SQL(" AND status <> 'running'") if split else sql.SQL("")
            matching = sql.SQL(q("list_rows_few" if few else "list_rows")).format(
                where=sql.SQL("{} AND {}{}").format(where, keyset, at_rest), order=order
            )
            extra = keyset_params
        if split:
            matching = sql.SQL(q("with_running")).format(
                at_rest=matching, where=sql.SQL("{} AND {}").format(where, keyset), order=order
            )
        listing = sql.SQL(q("list_jobs")).format(
            rows=matching, order=order, duration=jobquery.DURATION
        )
        rows = []
        if total.value:
            values = {**params, **extra, **CUTS, "limit": page_size + 1}
            rows = await self._all(listing, values)
        next_after = None
        if len(rows) > page_size:
            rows = rows[:page_size]
            next_after = jobquery.cursor_for(query, rows[-1])
        return JobPage(rows=rows, total=total, next_after=next_after, window=window)

    async def groups(
        self, query: JobQuery, statuses: list[str] | None = None, limit: int | None = None
    ) -> list[Group]:
        """The groups ((status, queue, class_name) of jobs at rest) that ``query``'s filters
        match, in the index's order (only those of ``statuses`` when given), the first
        ``limit`` of them when given."""
        walk = jobquery.walk_sql(query, statuses)
        found = await self._all(
            sql.SQL(q("groups")).format(
                start=walk.start, within=walk.within, matching=walk.matching
            ),
            {**walk.params, "limit": limit},
        )
        return [(r["status"], r["queue"], r["class_name"]) for r in found]

    async def _count_grouped(
        self,
        groups: list[Group],
        where: sql.Composable,
        params: dict[str, Any],
        split: bool,
    ) -> Count:
        """:meth:`_count` for the jobs at rest of ``groups`` (and, with ``split``, the running
        jobs matching ``where``)."""
        cap = self.options.count_threshold
        counted = await self._all(
            sql.SQL(q("count_grouped")).format(running=where if split else sql.SQL("FALSE")),
            {**params, **_group_arrays(groups), "cap": cap + 1},
        )
        value = int(counted[0]["jobs"])
        if value <= cap:
            return Count(value, True)
        return await self._estimate(where, params, cap)

    async def _count(self, where: sql.Composable, params: dict[str, Any], split: str) -> Count:
        cap = self.options.count_threshold
        counted = await self._all(
            sql.SQL(q("count_jobs_bounded" + split)).format(where=where),
            {**params, "cap": cap + 1},
        )
        value = int(counted[0]["jobs"])
        if value <= cap:
            return Count(value, True)
        return await self._estimate(where, params, cap)

    async def _estimate(self, where: sql.Composable, params: dict[str, Any], cap: int) -> Count:
        """The planner's estimate of the jobs matching ``where`` (more than ``cap`` were
        counted)."""
        plan = await self._all(sql.SQL(q("estimate_jobs")).format(where=where), params)
        estimated = int(plan[0]["QUERY PLAN"][0]["Plan"]["Plan Rows"])
        return Count(max(estimated, cap + 1), False)

    async def datalists(self, limit: int = 500) -> tuple[list[str], list[str]]:
        """The names the filters offer, in byte order and cut to the lists' width: the queues
        of the jobs at rest and those the live processes serve, and the worker classes of the
        jobs at rest (a class shows once one of its jobs has waited or finished); both from
        one walk of the first :data:`MAX_GROUPS` groups."""
        groups = await self.groups(jobquery.JobQuery(), limit=MAX_GROUPS)
        names = sorted({queue for _, queue, _ in groups})
        rows = await self._all(q("distinct_queues"), {"limit": limit, "g_queue": names, **CUTS})
        cut = CUTS["cut"]
        classes = sorted({class_name[:cut] for _, _, class_name in groups})[:limit]
        return [r["queue"] for r in rows], classes

    # ------------------------------------------------------------------ histograms

    async def histogram(self, statuses: Sequence[str]) -> Histogram:
        """Jobs per queue and status. On a small table everything is counted; on a large one
        statuses up to the count threshold are counted exactly and larger ones (and statuses
        no plugin registered) are estimated from a block sample."""
        cap = self.options.count_threshold
        counts: dict[str, dict[str, int]] = {}
        size, _ = await self.table_size()
        if size <= cap:
            for row in await self._all(q("queue_status_all"), CUTS):
                counts.setdefault(row["queue"], {})[row["status"]] = int(row["jobs"])
            found = {s for per_queue in counts.values() for s in per_queue}
            return Histogram(counts=counts, exact=dict.fromkeys([*statuses, *found], True))
        sizes = await self._all(q("status_sizes"), {"statuses": list(statuses), "cap": cap + 1})
        small = [r["status"] for r in sizes if r["jobs"] <= cap]
        exact = {status: status in small for status in statuses}
        for row in await self._all(q("queue_status_exact"), {"statuses": small, **CUTS}):
            counts.setdefault(row["queue"], {})[row["status"]] = int(row["jobs"])
        options = self.options
        percent = min(options.sample_percent, 100.0 * options.sample_rows / max(size, 1))
        sampled = await self._all(
            q("queue_status_sampled"), {"percent": percent, "exclude": small, **CUTS}
        )
        for row in sampled:
            counts.setdefault(row["queue"], {})[row["status"]] = round(row["jobs"])
            exact.setdefault(row["status"], False)
        return Histogram(counts=counts, exact=exact)

    # ------------------------------------------------------------------ one job

    async def get_job(self, job_id: int) -> dict[str, Any] | None:
        rows = await self._all(q("get_job"), {"id": job_id, **CUTS})
        return rows[0] if rows else None

    async def retry(self, job_id: int, by: str = "monitor") -> bool:
        """Put a failed job back to queued; ``False`` when it was not failed (any more)."""
        return bool(await (await self.core()).retry_jobs([job_id], by))

    async def cancel(self, job_id: int, by: str = "monitor") -> str | None:
        """Cancel a job through the kernel: ``"cancelled"`` (it was waiting), ``"requested"``
        (it runs: its process stops it), or the final status it already had; ``None`` when
        there is no such job."""
        return (await (await self.core()).cancel_jobs([job_id], by)).get(job_id)

    # ------------------------------------------------------------------ bulk actions

    async def bulk_count(
        self, query: JobQuery, statuses: Sequence[str], cap: int
    ) -> tuple[int, int | None]:
        """How many jobs in ``statuses`` match ``query``'s filters (no window: every job),
        counted no further than ``cap``, and the id of the newest of them."""
        if not statuses:
            return 0, None
        groups = await self.groups(query, list(statuses))
        search, params = jobquery.search_sql(query)
        found = await self._all(
            sql.SQL(q("bulk_count")).format(search=search),
            {**params, **_group_arrays(groups), "cap": cap},
        )
        newest = found[0]["newest"]
        return int(found[0]["jobs"]), None if newest is None else int(newest)

    async def bulk_apply(
        self,
        action: BulkAction,
        query: JobQuery,
        statuses: Sequence[str],
        upto: int,
        limit: int,
        by: str = "monitor",
    ) -> BulkResult:
        """Apply ``action`` to the newest ``limit`` jobs in ``statuses`` that match ``query``
        and are not newer than ``upto``, through the kernel's fenced statements (a job that
        left those statuses meanwhile is left alone)."""
        if not statuses:
            return BulkResult(selected=0, changed=0)
        groups = await self.groups(query, list(statuses))
        search, params = jobquery.search_sql(query)
        newest_first = sql.SQL("DESC")
        rows = sql.SQL(q("list_rows_grouped")).format(
            bound=sql.SQL("t.id <= %(upto)s AND {}").format(search),
            group_filter=sql.SQL("TRUE"),
            group_order=sql.SQL("x.id DESC"),
            direction=newest_first,
        )
        found = await self._all(
            sql.SQL(q("bulk_ids")).format(rows=rows),
            {**params, **_group_arrays(groups), "upto": upto, "limit": limit},
        )
        ids = [row["id"] for row in found]
        if not ids:
            return BulkResult(selected=0, changed=0)
        core = await self.core()
        if action.name == "retry":
            return BulkResult(selected=len(ids), changed=len(await core.retry_jobs(ids, by)))
        outcomes = list((await core.cancel_jobs(ids, by)).values())
        return BulkResult(
            selected=len(ids),
            changed=outcomes.count("cancelled"),
            requested=outcomes.count("requested"),
        )

    # ------------------------------------------------------------------ queues

    async def queue_overview(self) -> queues.Overview:
        """Paused state, serving processes and limits of every queue the kernel knows."""
        core = await self.core()
        return queues.overview(
            await core.queue_states(),
            await core.processes(),
            await core.list_limits(queues.LIMITS_SHOWN + 1),
        )

    async def pause_queue(self, name: str, by: str = "monitor") -> bool:
        """Pause ``name`` in every process; ``False`` when it was paused already."""
        return await (await self.core()).pause_queue(name, by)

    async def resume_queue(self, name: str) -> bool:
        """Resume ``name``; ``False`` when it was not paused."""
        return await (await self.core()).resume_queue(name)

    # ------------------------------------------------------------------ processes

    async def processes(self) -> list[dict[str, Any]]:
        processes = await (await self.core()).processes()
        ids = [job_id for p in processes for job_id in p["running"]]
        found = await self._all(q("jobs_by_ids"), {"ids": ids, **CUTS}) if ids else []
        jobs = {r["id"]: r for r in found}
        for process in processes:
            process["jobs"] = [jobs[i] for i in process["running"] if i in jobs]
        return processes
