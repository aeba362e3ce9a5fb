"""Inserting jobs: the sync :class:`Client` and the async :class:`AsyncClient`.

Both build the same statement parameters (:func:`job_params`), check the arguments are JSON
before anything is written, and insert a job in one round trip (a bulk in one statement)
through the kernel's store. A caller's own connection may be passed; the job is then part of
the caller's transaction.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from toro_core.configured import Call
from toro_core.encoding import encode_args, encode_kwargs, encode_many, encode_properties
from toro_core.limits import limit_key
from toro_core.runtime.drain import arun_now, run_sync
from toro_core.store import CoreStore, CoreSyncStore

if TYPE_CHECKING:
    from toro_core.app import Toro
    from toro_core.job import Job
    from toro_core.worker import Worker


def job_params(
    app: Toro,
    worker_class: type[Worker],
    args: Sequence[Any],
    kwargs: dict[str, Any] | None = None,
    *,
    status: str = "queued",
    scheduled_at: datetime | None = None,
    properties: dict[str, Any] | None = None,
    queue: str | None = None,
    priority: int | None = None,
) -> dict[str, Any]:
    """The parameters of ``insert_job`` for one job; raises before any I/O on bad input."""
    limits = app.check_worker(worker_class)
    app.statuses[status]  # an unknown status is an error here, not a row nobody will run
    owner = f"{worker_class.__qualname__}.perform_async"
    kwargs = kwargs or {}
    encoded_args = encode_args(args, owner=owner)
    encoded_kwargs = encode_kwargs(kwargs, owner=owner)
    return {
        "queue": _queue(worker_class, queue),
        "class_name": worker_class.class_name(),
        "args": encoded_args,
        "kwargs": encoded_kwargs,
        "name": namer(args, kwargs) if (namer := app.job_namer(worker_class)) else None,
        "status": status,
        "scheduled_at": scheduled_at,
        "properties": encode_properties(properties or {}, owner=owner),
        "priority": _priority(worker_class, priority),
        "unique_key": unique_key(worker_class, args, kwargs),
        **limits.params(limit_key(worker_class, limits, args, kwargs)),
        "headers": app.job_headers(worker_class),
    }


def bulk_params(
    app: Toro,
    worker_class: type[Worker],
    items: Iterable[Sequence[Any] | Call],
    *,
    status: str = "queued",
    scheduled_at: datetime | None = None,
    queue: str | None = None,
    priority: int | None = None,
) -> dict[str, Any]:
    """The parameters of ``insert_jobs``, one list entry per job; the n-th bad item is named
    in the error. What the class does not use (names, unique keys, limit keys, keyword
    arguments) is not computed per item."""
    limits = app.check_worker(worker_class)
    app.statuses[status]
    qualname = worker_class.__qualname__
    given: list[Any] = list(items)
    arg_lists: list[Sequence[Any]] = given  # the common case: tuples of positional arguments
    kwarg_dicts: list[dict[str, Any]] | None = None  # None: no item has keyword arguments
    if not all(type(item) is tuple for item in given):
        arg_lists, kwarg_dicts = _split_calls(given, qualname)

    def owner(index: int) -> str:
        return f"{qualname}.perform_bulk item {index}"

    encoded = encode_many(arg_lists, lambda args, who: encode_args(args, owner=who), owner)
    encoded_kwargs = (
        encode_many(kwarg_dicts, lambda kwargs, who: encode_kwargs(kwargs, owner=who), owner)
        if kwarg_dicts is not None and any(kwarg_dicts)
        else ["{}"] * len(arg_lists)
    )
    namer = app.job_namer(worker_class)
    unique = _may_be_unique(worker_class)
    calls = (
        list(zip(arg_lists, kwarg_dicts or [_NO_KWARGS] * len(arg_lists), strict=True))
        if namer or unique or limits.limited
        else []
    )
    nothing: list[str | None] = [None] * len(arg_lists)
    return {
        "queue": _queue(worker_class, queue),
        "class_name": worker_class.class_name(),
        "args": encoded,
        "kwargs": encoded_kwargs,
        "names": [namer(a, k) for a, k in calls] if namer else nothing,
        "unique_keys": ([unique_key(worker_class, a, k) for a, k in calls] if unique else nothing),
        "limit_keys": (
            [limit_key(worker_class, limits, a, k) for a, k in calls] if limits.limited else nothing
        ),
        "concurrency": limits.concurrency,
        "rate": limits.rate,
        "per_seconds": limits.per_seconds,
        "status": status,
        "scheduled_at": scheduled_at,
        "priority": _priority(worker_class, priority),
        "headers": app.job_headers(worker_class),
    }


#: The keyword arguments of a bulk item given as a plain tuple (shared, never changed).
_NO_KWARGS: dict[str, Any] = {}


def _split_calls(
    items: list[Any], qualname: str
) -> tuple[list[Sequence[Any]], list[dict[str, Any]]]:
    """The positional and keyword arguments of each bulk item (a list or tuple of arguments,
    or a :class:`Call`); a ``TypeError`` naming the first item that is neither."""
    arg_lists: list[Sequence[Any]] = []
    kwarg_dicts: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if isinstance(item, (list, tuple)):
            arg_lists.append(item)
            kwarg_dicts.append(_NO_KWARGS)
        elif isinstance(item, Call):
            arg_lists.append(item.args)
            kwarg_dicts.append(item.kwargs)
        else:
            raise TypeError(
                f"{qualname}.perform_bulk: item {index} is a {type(item).__name__}; each item "
                "is a tuple of perform's arguments or a Call(*args, **kwargs)"
            )
    return arg_lists, kwarg_dicts


def _may_be_unique(worker_class: type[Worker]) -> bool:
    """Whether a job of ``worker_class`` can have a unique key: ``unique = True`` or its own
    ``unique_key`` (the default one returns ``None`` without ``unique``)."""
    from toro_core.worker import Worker

    return bool(worker_class.unique) or (
        getattr(worker_class.unique_key, "__func__", None) is not Worker.unique_key.__func__  # type: ignore[attr-defined]
    )


#: Longest unique key a worker's ``unique_key`` may return (the key is indexed).
MAX_UNIQUE_KEY = 200


def unique_key(
    worker_class: type[Worker], args: Sequence[Any], kwargs: dict[str, Any]
) -> str | None:
    """The stored uniqueness key of a job: the class name and what ``unique_key`` returns."""
    key = worker_class.unique_key(*args, **kwargs)
    if key is None:
        return None
    if not isinstance(key, str) or not key or len(key) > MAX_UNIQUE_KEY:
        raise TypeError(
            f"{worker_class.__qualname__}.unique_key() must return None or a string of 1 to "
            f"{MAX_UNIQUE_KEY} characters, not {key!r:.60}"
        )
    return f"{worker_class.class_name()}:{key}"


def _queue(worker_class: type[Worker], queue: str | None) -> str:
    if queue is None:
        return worker_class.queue
    if not isinstance(queue, str) or not queue.strip():
        raise TypeError(f"{worker_class.__qualname__}.set(queue=...) must be a non-empty string")
    return queue


def check_priority(value: Any, what: str) -> int:
    """``value`` when it is a priority (an int from -100 to 100), else a ``TypeError`` or
    ``ValueError`` naming ``what``."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what} must be an int from -100 to 100, not {type(value).__name__}")
    if not -100 <= value <= 100:
        raise ValueError(f"{what} must be from -100 to 100 (larger runs first), not {value}")
    return value


def _priority(worker_class: type[Worker], priority: int | None) -> int:
    if priority is None:
        return worker_class.priority
    return check_priority(priority, f"{worker_class.__qualname__}.set(priority=...)")


class Client:
    """Enqueues from synchronous code through a small lazily opened connection pool."""

    def __init__(self, app: Toro) -> None:
        self.app = app
        self._store: CoreSyncStore | None = None
        self._lock = threading.Lock()

    def store(self, connection: psycopg.Connection[Any] | None = None) -> CoreSyncStore:
        """The kernel's sync store: on ``connection`` when given, else on the client's pool."""
        if connection is not None:
            return CoreSyncStore(connection=connection)
        with self._lock:
            if self._store is None:
                connections = self.app.connections
                pool: ConnectionPool[Any] = ConnectionPool(
                    connections.url,
                    min_size=1,
                    max_size=8,
                    kwargs={"autocommit": True, **connections.kwargs},
                    name="toro-client",
                    open=True,
                )
                self._store = CoreSyncStore(pool)
            return self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None and self._store.pool is not None:
                self._store.pool.close()
            self._store = None

    def enqueue(
        self,
        worker_class: type[Worker],
        args: Sequence[Any],
        kwargs: dict[str, Any] | None = None,
        *,
        connection: psycopg.Connection[Any] | None = None,
        **options: Any,
    ) -> Job:
        """Insert one job (``options`` as :func:`job_params`) and run ``job_enqueued``."""
        params = job_params(self.app, worker_class, args, kwargs, **options)
        job = self.store(connection).insert_job(params)
        if not job.duplicate:
            self.app.notify_enqueued([job])
            if self.app.inline and connection is None:
                if run_sync(arun_now, self.app, job.id) is not None:
                    return self.store().get_job(job.id) or job
        return job

    def enqueue_bulk(
        self,
        worker_class: type[Worker],
        items: Iterable[Sequence[Any] | Call],
        *,
        connection: psycopg.Connection[Any] | None = None,
        **options: Any,
    ) -> list[int]:
        """Insert one job per item in one statement; return their ids in order."""
        params = bulk_params(self.app, worker_class, items, **options)
        if not params["args"]:
            return []
        if connection is None and self.app.has("job_enqueued"):
            # the hook reads the rows back on the connection that inserted them
            with self.store().connection() as conn:
                return self._insert_bulk(CoreSyncStore(connection=conn), params)
        return self._insert_bulk(self.store(connection), params)

    def _insert_bulk(self, store: CoreSyncStore, params: dict[str, Any]) -> list[int]:
        ids = store.insert_jobs(params)
        if self.app.has("job_enqueued"):  # rows are read back only when a plugin listens
            self.app.notify_enqueued(store.get_jobs(ids))
        return ids


class AsyncClient:
    """Enqueues from async code; a pool is opened on first use in each running event loop."""

    def __init__(self, app: Toro) -> None:
        self.app = app
        self._stores: dict[int, CoreStore] = {}

    async def store(self, connection: psycopg.AsyncConnection[Any] | None = None) -> CoreStore:
        """The kernel's async store: on ``connection`` when given, else on this loop's pool."""
        if connection is not None:
            return CoreStore(connection=connection)
        loop = id(asyncio.get_running_loop())
        store = self._stores.get(loop)
        if store is None:
            connections = self.app.connections
            pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
                connections.url,
                min_size=1,
                max_size=8,
                kwargs={"autocommit": True, **connections.kwargs},
                name="toro-aclient",
                open=False,
            )
            await pool.open()
            store = self._stores[loop] = CoreStore(pool)
        return store

    async def close(self) -> None:
        stores, self._stores = list(self._stores.values()), {}
        for store in stores:
            if store.pool is not None:
                await store.pool.close()

    async def enqueue(
        self,
        worker_class: type[Worker],
        args: Sequence[Any],
        kwargs: dict[str, Any] | None = None,
        *,
        connection: psycopg.AsyncConnection[Any] | None = None,
        **options: Any,
    ) -> Job:
        """The awaitable twin of :meth:`Client.enqueue`."""
        params = job_params(self.app, worker_class, args, kwargs, **options)
        job = await (await self.store(connection)).insert_job(params)
        if not job.duplicate:
            self.app.notify_enqueued([job])
            if self.app.inline and connection is None:
                if await arun_now(self.app, job.id) is not None:
                    return await (await self.store()).get_job(job.id) or job
        return job

    async def enqueue_bulk(
        self,
        worker_class: type[Worker],
        items: Iterable[Sequence[Any] | Call],
        *,
        connection: psycopg.AsyncConnection[Any] | None = None,
        **options: Any,
    ) -> list[int]:
        """The awaitable twin of :meth:`Client.enqueue_bulk`."""
        params = bulk_params(self.app, worker_class, items, **options)
        if not params["args"]:
            return []
        store = await self.store(connection)
        if connection is None and self.app.has("job_enqueued"):
            async with store.connection() as conn:
                return await self._insert_bulk(CoreStore(connection=conn), params)
        return await self._insert_bulk(store, params)

    async def _insert_bulk(self, store: CoreStore, params: dict[str, Any]) -> list[int]:
        ids = await store.insert_jobs(params)
        if self.app.has("job_enqueued"):
            self.app.notify_enqueued(await store.get_jobs(ids))
        return ids
