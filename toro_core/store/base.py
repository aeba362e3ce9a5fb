"""Running statements: :class:`Store` (async) and :class:`SyncStore`, for the kernel and plugins.

A store wraps a psycopg connection pool (or one connection a caller owns) and runs statements
on it with rows as dicts; every driver error leaves it as a toro error (:mod:`.errors`). The
kernel's typed operations are :class:`toro_core.store.CoreStore`; a plugin subclasses
:class:`Store` for the statements on its own tables, loading them with ``load_queries``::

    from toro_core.plugin import Store, load_queries

    Q = load_queries("my_plugin")          # my_plugin/queries.sql

    class MyStore(Store):
        async def due(self, limit: int) -> list[int]:
            return [row["id"] for row in await self.fetch_all(Q["due"], {"limit": limit})]
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, TypeAlias, TypeVar

import psycopg
from psycopg import sql
from psycopg.pq import ExecStatus
from psycopg.rows import dict_row, tuple_row
from psycopg.types.json import JsonbLoader, JsonLoader
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from toro_core.store.errors import translated

TUPLES_OK = ExecStatus.TUPLES_OK

#: A statement: a query text, or a query composed with :mod:`psycopg.sql`.
Query: TypeAlias = "str | sql.Composable"
Params: TypeAlias = "Mapping[str, Any] | Sequence[Any] | None"
Row: TypeAlias = dict[str, Any]


class Store:
    """Statements on an async pool, or on one async connection the caller holds.

    With ``connection`` every statement runs on it (inside the caller's transaction, if one is
    open); otherwise each call checks a connection out of ``pool`` for as long as it takes.
    """

    def __init__(
        self,
        pool: AsyncConnectionPool[Any] | None = None,
        *,
        connection: psycopg.AsyncConnection[Any] | None = None,
    ) -> None:
        if (pool is None) == (connection is None):
            raise ValueError("a store needs a pool or a connection (not both)")
        self.pool = pool
        self._connection = connection

    @property
    def conninfo(self) -> str | None:
        """Where the store connects (for messages; ``None`` on a caller's connection)."""
        conninfo = self.pool.conninfo if self.pool is not None else None
        return conninfo if isinstance(conninfo, str) else None

    def on(self, connection: psycopg.AsyncConnection[Any]) -> Store:
        """The same kind of store, running on ``connection`` (a caller's transaction)."""
        return type(self)(connection=connection)

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A connection for several statements; driver errors come out translated."""
        with translated(self.conninfo):
            if self._connection is not None:
                yield self._connection
                return
            assert self.pool is not None
            async with self.pool.connection() as conn:
                yield conn

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A connection inside one transaction (a savepoint on a caller's open transaction)."""
        async with self.connection() as conn, conn.transaction():
            yield conn

    async def fetch_all(self, query: Query, params: Params = None) -> list[Row]:
        """Every row of ``query`` as a dict."""
        async with self.connection() as conn, self._cursor(conn) as cur:
            await cur.execute(query, params)  # type: ignore[arg-type]
            return await cur.fetchall() if _has_rows(cur) else []

    async def fetch_one(self, query: Query, params: Params = None) -> Row | None:
        """The first row of ``query`` as a dict, or ``None``."""
        async with self.connection() as conn, self._cursor(conn) as cur:
            await cur.execute(query, params)  # type: ignore[arg-type]
            return await cur.fetchone()

    async def fetch_tuples(self, query: Query, params: Params = None) -> list[tuple[Any, ...]]:
        """Every row of ``query`` as a tuple in the statement's column order (no dict per row,
        for a caller that knows the columns and reads many rows)."""
        async with self.connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
            if self._connection is not None:
                _json_rows(cur)
            await cur.execute(query, params)  # type: ignore[arg-type]
            return await cur.fetchall() if _has_rows(cur) else []

    def _cursor(self, conn: psycopg.AsyncConnection[Any]) -> psycopg.AsyncCursor[Row]:
        cur = conn.cursor(row_factory=dict_row)
        return _json_rows(cur) if self._connection is not None else cur

    async def execute(self, query: Query, params: Params = None) -> int:
        """Run ``query``; return the number of rows it affected."""
        async with self.connection() as conn:
            cur = await conn.execute(query, params)  # type: ignore[arg-type]
            return cur.rowcount


def _has_rows(cur: psycopg.Cursor[Any] | psycopg.AsyncCursor[Any]) -> bool:
    """Whether the statement just run returned rows (``cursor.description`` says the same
    but builds a column object per column each time: 8 us for a claim's 21 columns)."""
    result = cur.pgresult
    return result is not None and result.status == TUPLES_OK


async def fetch_all(
    conn: psycopg.AsyncConnection[Any], query: Query, params: Params = None
) -> list[Row]:
    """Every row of ``query`` on ``conn``, as dicts (for statements inside a transaction)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)  # type: ignore[arg-type]
        return await cur.fetchall() if _has_rows(cur) else []


async def fetch_column(
    conn: psycopg.AsyncConnection[Any], query: Query, params: Params = None
) -> list[Any]:
    """The first column of every row of ``query`` on ``conn`` (ids a statement answers)."""
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(query, params)  # type: ignore[arg-type]
        return [row[0] for row in await cur.fetchall()] if _has_rows(cur) else []


class SyncStore:
    """The synchronous twin of :class:`Store` (enqueue from sync code, command-line tools)."""

    def __init__(
        self,
        pool: ConnectionPool[Any] | None = None,
        *,
        connection: psycopg.Connection[Any] | None = None,
    ) -> None:
        if (pool is None) == (connection is None):
            raise ValueError("a store needs a pool or a connection (not both)")
        self.pool = pool
        self._connection = connection

    @property
    def conninfo(self) -> str | None:
        conninfo = self.pool.conninfo if self.pool is not None else None
        return conninfo if isinstance(conninfo, str) else None

    def on(self, connection: psycopg.Connection[Any]) -> SyncStore:
        """The same kind of store, running on ``connection`` (a caller's transaction)."""
        return type(self)(connection=connection)

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        with translated(self.conninfo):
            if self._connection is not None:
                yield self._connection
                return
            assert self.pool is not None
            with self.pool.connection() as conn:
                yield conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        with self.connection() as conn, conn.transaction():
            yield conn

    def fetch_all(self, query: Query, params: Params = None) -> list[Row]:
        with self.connection() as conn, self._cursor(conn) as cur:
            cur.execute(query, params)  # type: ignore[arg-type]
            return cur.fetchall() if _has_rows(cur) else []

    def fetch_one(self, query: Query, params: Params = None) -> Row | None:
        with self.connection() as conn, self._cursor(conn) as cur:
            cur.execute(query, params)  # type: ignore[arg-type]
            return cur.fetchone()

    def _cursor(self, conn: psycopg.Connection[Any]) -> psycopg.Cursor[Row]:
        cur = conn.cursor(row_factory=dict_row)
        return _json_rows(cur) if self._connection is not None else cur

    def execute(self, query: Query, params: Params = None) -> int:
        with self.connection() as conn:
            return conn.execute(query, params).rowcount  # type: ignore[arg-type]


_C = TypeVar("_C", psycopg.Cursor[Any], psycopg.AsyncCursor[Any])


def _json_rows(cur: _C) -> _C:
    """``cur`` reading ``json``/``jsonb`` columns as Python values, whatever loaders its
    connection has: a caller's connection may have others (Django's reads ``jsonb`` as text
    for its JSONField), and toro's rows must not depend on them. The connection's own
    loaders are left alone."""
    cur.adapters.register_loader("jsonb", JsonbLoader)
    cur.adapters.register_loader("json", JsonLoader)
    return cur


def connect(conninfo: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """A sync autocommit connection with dict rows; a failure is ``DatabaseUnavailable``."""
    kwargs.setdefault("connect_timeout", 10)
    with translated(conninfo):
        return psycopg.connect(conninfo, autocommit=True, row_factory=dict_row, **kwargs)


async def aconnect(conninfo: str, **kwargs: Any) -> psycopg.AsyncConnection[Any]:
    """An async autocommit connection with dict rows; a failure is ``DatabaseUnavailable``."""
    kwargs.setdefault("connect_timeout", 10)
    with translated(conninfo):
        return await psycopg.AsyncConnection.connect(
            conninfo, autocommit=True, row_factory=dict_row, **kwargs
        )
