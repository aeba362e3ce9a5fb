"""Inserting jobs: the sync :class:`Client` and the async :class:`AsyncClient`.

Both build the same statement parameters (:func:`job_params`), check the arguments are JSON
before anything is written, and insert a job in one round trip (a bulk in one statement). A
caller's own connection may be passed; the job is then part of the caller's transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from toro_core.encoding import encode_args, encode_properties
from toro_core.job import Job
from toro_core.sql import query

if TYPE_CHECKING:
    from toro_core.app import Toro
    from toro_core.worker import Worker


def job_params(
    app: Toro,
    worker_class: type[Worker],
    args: Sequence[Any],
    *,
    status: str = "queued",
    scheduled_at: datetime | None = None,
    properties: dict[str, Any] | None = None,
    queue: str | None = None,
) -> dict[str, Any]:
    """The parameters of ``insert_job`` for one job; raises before any I/O on bad input."""
    app.check_worker(worker_class)
    app.statuses[status]  # an unknown status is an error here, not a row nobody will run
    owner = f"{worker_class.__qualname__}.perform_async"
    return {
        "queue": queue or worker_class.queue,
        "class_name": worker_class.class_name(),
        "args": encode_args(args, owner=owner),
        "name": app.job_name(worker_class, args),
        "status": status,
        "scheduled_at": scheduled_at,
        "properties": encode_properties(properties or {}, owner=owner),
    }


def bulk_params(
    app: Toro,
    worker_class: type[Worker],
    args_list: Iterable[Sequence[Any]],
    *,
    status: str = "queued",
    scheduled_at: datetime | None = None,
) -> dict[str, Any]:
    """The parameters of ``insert_jobs``; the n-th bad argument tuple is named in the error."""
    app.check_worker(worker_class)
    app.statuses[status]
    encoded, names = [], []
    namer = app.job_namer(worker_class)
    for index, args in enumerate(args_list):
        if not isinstance(args, (list, tuple)):
            raise TypeError(
                f"{worker_class.__qualname__}.perform_bulk: item {index} is a "
                f"{type(args).__name__}; each item is a tuple of perform's arguments"
            )
        encoded.append(
            encode_args(args, owner=f"{worker_class.__qualname__}.perform_bulk item {index}")
        )
        names.append(namer(args) if namer else None)
    return {
        "queue": worker_class.queue,
        "class_name": worker_class.class_name(),
        "args": encoded,
        "names": names,
        "status": status,
        "scheduled_at": scheduled_at,
    }


class Client:
    """Enqueues from synchronous code through a small lazily opened connection pool."""

    def __init__(self, app: Toro) -> None:
        self.app = app
        self._pool: ConnectionPool[Any] | None = None
        self._lock = threading.Lock()

    def _connection_pool(self) -> ConnectionPool[Any]:
        with self._lock:
            if self._pool is None:
                self._pool = ConnectionPool(
                    self.app.database_url,
                    min_size=1,
                    max_size=8,
                    kwargs={"autocommit": True},
                    name="toro-client",
                    open=True,
                )
            return self._pool

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    def insert(self, params: dict[str, Any], connection: psycopg.Connection[Any] | None) -> Job:
        """Insert one job from :func:`job_params` and run the ``job_enqueued`` hook."""
        if connection is not None:
            row = _fetch_one(connection, params)
        else:
            with self._connection_pool().connection() as conn:
                row = _fetch_one(conn, params)
        job = Job.from_row(row)
        self.app.notify_enqueued([job])
        return job

    def enqueue(
        self,
        worker_class: type[Worker],
        args: Sequence[Any],
        *,
        connection: psycopg.Connection[Any] | None = None,
        **options: Any,
    ) -> Job:
        return self.insert(job_params(self.app, worker_class, args, **options), connection)

    def enqueue_bulk(
        self,
        worker_class: type[Worker],
        args_list: Iterable[Sequence[Any]],
        *,
        connection: psycopg.Connection[Any] | None = None,
        **options: Any,
    ) -> list[int]:
        params = bulk_params(self.app, worker_class, args_list, **options)
        if not params["args"]:
            return []
        if connection is not None:
            return self._insert_bulk(connection, params)
        with self._connection_pool().connection() as conn:
            return self._insert_bulk(conn, params)

    def _insert_bulk(self, conn: psycopg.Connection[Any], params: dict[str, Any]) -> list[int]:
        ids = [row[0] for row in conn.execute(query("insert_jobs"), params)]
        if self.app.has("job_enqueued"):  # rows are read back only when a plugin listens
            with conn.cursor(row_factory=dict_row) as cur:
                cur.execute(query("get_jobs"), {"ids": ids})
                self.app.notify_enqueued([Job.from_row(row) for row in cur.fetchall()])
        return ids


def _fetch_one(conn: psycopg.Connection[Any], params: dict[str, Any]) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query("insert_job"), params)
        row = cur.fetchone()
    assert row is not None
    return row


class AsyncClient:
    """Enqueues from async code; the pool is opened on first use in the running event loop."""

    def __init__(self, app: Toro) -> None:
        self.app = app
        self._pools: dict[int, AsyncConnectionPool[Any]] = {}

    async def _connection_pool(self) -> AsyncConnectionPool[Any]:
        import asyncio

        loop = id(asyncio.get_running_loop())
        pool = self._pools.get(loop)
        if pool is None:
            pool = AsyncConnectionPool(
                self.app.database_url,
                min_size=1,
                max_size=8,
                kwargs={"autocommit": True},
                name="toro-aclient",
                open=False,
            )
            await pool.open()
            self._pools[loop] = pool
        return pool

    async def close(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.close()

    async def insert(
        self, params: dict[str, Any], connection: psycopg.AsyncConnection[Any] | None
    ) -> Job:
        if connection is not None:
            row = await _afetch_one(connection, params)
        else:
            async with (await self._connection_pool()).connection() as conn:
                row = await _afetch_one(conn, params)
        job = Job.from_row(row)
        self.app.notify_enqueued([job])
        return job

    async def enqueue(
        self,
        worker_class: type[Worker],
        args: Sequence[Any],
        *,
        connection: psycopg.AsyncConnection[Any] | None = None,
        **options: Any,
    ) -> Job:
        return await self.insert(job_params(self.app, worker_class, args, **options), connection)

    async def enqueue_bulk(
        self,
        worker_class: type[Worker],
        args_list: Iterable[Sequence[Any]],
        *,
        connection: psycopg.AsyncConnection[Any] | None = None,
        **options: Any,
    ) -> list[int]:
        params = bulk_params(self.app, worker_class, args_list, **options)
        if not params["args"]:
            return []
        if connection is not None:
            return await self._insert_bulk(connection, params)
        async with (await self._connection_pool()).connection() as conn:
            return await self._insert_bulk(conn, params)

    async def _insert_bulk(
        self, conn: psycopg.AsyncConnection[Any], params: dict[str, Any]
    ) -> list[int]:
        cur = await conn.execute(query("insert_jobs"), params)
        ids = [row[0] for row in await cur.fetchall()]
        if self.app.has("job_enqueued"):  # rows are read back only when a plugin listens
            async with conn.cursor(row_factory=dict_row) as rows:
                await rows.execute(query("get_jobs"), {"ids": ids})
                self.app.notify_enqueued([Job.from_row(row) for row in await rows.fetchall()])
        return ids


async def _afetch_one(conn: psycopg.AsyncConnection[Any], params: dict[str, Any]) -> dict[str, Any]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query("insert_job"), params)
        row = await cur.fetchone()
    assert row is not None
    return row
