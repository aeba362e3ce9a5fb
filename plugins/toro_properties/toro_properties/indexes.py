"""Expression indexes on job properties, so property filters stay fast on millions of jobs.

::

    from toro_properties import create_property_index

    create_property_index(conninfo, "comments_count", "int")
    # CREATE INDEX CONCURRENTLY IF NOT EXISTS toro_jobs_prop_comments_count_int
    #     ON toro_jobs (((properties ->> 'comments_count')::integer))

The index serves queries that use the same expression, here
``(properties->>'comments_count')::int > 100`` (:attr:`PropertyIndex.expression` gives it).
Each index carries a comment ``toro-properties: {"path": [...], "type": "..."}`` by which
:func:`list_property_indexes` and the workers find it; workers then refuse values that the cast
would reject (see :mod:`toro_properties.checks`). Names and types are validated against a fixed
pattern and list and reach SQL only as literals and identifiers composed by psycopg.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import re
from collections.abc import Iterator, Sequence
from typing import Any

from psycopg import sql

from toro_core import StatementError, ToroError
from toro_core.plugin import Store, SyncStore, connect
from toro_properties.casts import PropertyType, property_type
from toro_properties.paths import dotted, parse_path
from toro_properties.sql import query

log = logging.getLogger("toro.properties")

COMMENT_PREFIX = "toro-properties: "
NAME_PREFIX = "toro_jobs_prop_"
_MAX_IDENTIFIER = 63


class PropertyIndexError(ToroError):
    """A property index could not be created."""


@dataclasses.dataclass(frozen=True, slots=True)
class PropertyIndex:
    """An expression index on one property path, cast to one type."""

    #: The index's name in PostgreSQL.
    name: str
    #: The property path: ``("comments_count",)`` or ``("user", "timeline", "is_private")``.
    path: tuple[str, ...]
    #: The type name: one of ``text``, ``int``, ``bigint``, ``numeric``, ``float``, ``bool``.
    type: str
    #: ``False`` when a concurrent build failed and left the index unusable.
    valid: bool = True

    @property
    def kind(self) -> PropertyType:
        return property_type(self.type)

    @property
    def expression(self) -> str:
        """The SQL expression a query must use for the planner to pick this index."""
        if len(self.path) == 1:
            value = f"properties ->> '{self.path[0]}'"
        else:
            value = "properties #>> '{" + ",".join(self.path) + "}'"
        cast = self.kind.query_cast
        return f"({value}){cast}" if cast else value


def index_name(path: Sequence[str], type_name: str) -> str:
    """A stable, valid index name for ``path`` and ``type_name`` (hashed when it must be)."""
    readable = f"{NAME_PREFIX}{'__'.join(path)}_{type_name}"
    safe = re.sub(r"[^a-z0-9_]", "_", readable.lower())
    if safe == readable and len(safe) <= _MAX_IDENTIFIER:
        return safe
    digest = hashlib.sha1(f"{dotted(path)}:{type_name}".encode()).hexdigest()[:8]
    return f"{safe[: _MAX_IDENTIFIER - 9]}_{digest}"


def _value_sql(path: Sequence[str], kind: PropertyType) -> sql.Composable:
    if len(path) == 1:
        value = sql.SQL("properties ->> {}").format(sql.Literal(path[0]))
    else:
        value = sql.SQL("properties #>> {}").format(sql.Literal(list(path)))
    if kind.sql_type is None:
        return sql.SQL("({})").format(value)
    return sql.SQL("(({})::{})").format(value, sql.SQL(kind.sql_type))


def create_index_sql(index: PropertyIndex, *, concurrently: bool = True) -> sql.Composed:
    """The ``CREATE INDEX`` statement for ``index`` (composed, never string-formatted)."""
    return sql.SQL("CREATE INDEX {}IF NOT EXISTS {} ON toro_jobs ({})").format(
        sql.SQL("CONCURRENTLY " if concurrently else ""),
        sql.Identifier(index.name),
        _value_sql(index.path, index.kind),
    )


def _comment_sql(index: PropertyIndex) -> sql.Composed:
    comment = COMMENT_PREFIX + json.dumps({"path": list(index.path), "type": index.type})
    return sql.SQL("COMMENT ON INDEX {} IS {}").format(
        sql.Identifier(index.name), sql.Literal(comment)
    )


def _drop_sql(name: str, *, concurrently: bool) -> sql.Composed:
    return sql.SQL("DROP INDEX {}IF EXISTS {}").format(
        sql.SQL("CONCURRENTLY " if concurrently else ""), sql.Identifier(name)
    )


def index_for(path: str | Sequence[str], type_name: str = "text") -> PropertyIndex:
    """The index that :func:`create_property_index` would make; ``ValueError`` if invalid."""
    segments = parse_path(path)
    kind = property_type(type_name)
    return PropertyIndex(name=index_name(segments, kind.name), path=segments, type=kind.name)


@contextlib.contextmanager
def _store(conninfo: str) -> Iterator[SyncStore]:
    """A store on a connection of its own (``DatabaseUnavailable`` when it cannot connect)."""
    with connect(conninfo) as conn:
        store = SyncStore(connection=conn)
        found = store.fetch_one(query("jobs_table_exists"))
        if not (found and found["exists"]):
            raise PropertyIndexError(
                "table toro_jobs does not exist: run `toro-core migrate` first"
            )
        yield store


def create_property_index(
    conninfo: str,
    path: str | Sequence[str],
    type: str = "text",
    *,
    concurrently: bool = True,
) -> PropertyIndex:
    """Create (if missing) an expression index on the property ``path`` cast to ``type``.

    ``path`` is a key (``"comments_count"``) or a dotted path into nested properties
    (``"user.timeline.is_private"``). ``type`` is one of ``text``, ``int``, ``bigint``,
    ``numeric``, ``float``, ``bool``. The index is built ``CONCURRENTLY`` by default, so jobs
    keep being written meanwhile. If existing rows hold a value the cast refuses, nothing is
    left behind and :class:`PropertyIndexError` says which value. Idempotent: an existing valid
    index is kept, an invalid leftover of a failed build is replaced. Returns the index.
    """
    index = index_for(path, type)
    with _store(conninfo) as store:
        state = store.fetch_one(query("index_state"), {"name": index.name})
        if state is not None and not state["valid"]:
            log.warning("index %s is invalid (a failed build); rebuilding it", index.name)
            store.execute(_drop_sql(index.name, concurrently=concurrently))
        try:
            store.execute(create_index_sql(index, concurrently=concurrently))
        except StatementError as exc:
            if concurrently:  # a failed concurrent build leaves an invalid index behind
                store.execute(_drop_sql(index.name, concurrently=True))
            raise PropertyIndexError(
                f"cannot index property {dotted(index.path)!r} as {index.type}: "
                f"{exc}. Existing jobs hold a value that cannot be "
                f"cast to {index.type}: correct those jobs' properties or index the property as "
                "text; nothing was created"
            ) from exc
        store.execute(_comment_sql(index))
    log.info("property index %s ready: %s", index.name, index.expression)
    return index


def drop_property_index(
    conninfo: str, path: str | Sequence[str], type: str = "text", *, concurrently: bool = True
) -> bool:
    """Drop the index :func:`create_property_index` made for ``path`` and ``type``.

    Returns whether it existed.
    """
    index = index_for(path, type)
    with _store(conninfo) as store:
        existed = store.fetch_one(query("index_state"), {"name": index.name}) is not None
        store.execute(_drop_sql(index.name, concurrently=concurrently))
    return existed


def parse_listing(row: dict[str, Any]) -> PropertyIndex | None:
    """A :class:`PropertyIndex` from a ``list_property_indexes`` row; ``None`` if malformed."""
    try:
        spec = json.loads(str(row["comment"])[len(COMMENT_PREFIX) :])
        path = parse_path(spec["path"])
        kind = property_type(spec["type"])
    except (ValueError, KeyError, TypeError):
        log.warning("index %s has an unreadable toro-properties comment; ignored", row["name"])
        return None
    return PropertyIndex(name=row["name"], path=path, type=kind.name, valid=bool(row["valid"]))


def list_property_indexes(conninfo: str) -> list[PropertyIndex]:
    """The property indexes on ``toro_jobs`` that toro-properties made."""
    with _store(conninfo) as store:
        rows = store.fetch_all(query("list_property_indexes"))
    return [index for row in rows if (index := parse_listing(row)) is not None]


async def aload_property_indexes(store: Store) -> list[PropertyIndex]:
    """:func:`list_property_indexes` through an async store (used by workers)."""
    rows = await store.fetch_all(query("list_property_indexes"))
    return [index for row in rows if (index := parse_listing(row)) is not None]
