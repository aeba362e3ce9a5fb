"""The jobs list's query string: parsed, checked against fixed lists, and turned into SQL.

Every sort key maps to a fixed SQL fragment and every filter to a fixed condition with a bound
parameter; text from the request only ever reaches the database as a parameter value. Any
value the list cannot use (an unknown name, a repeated parameter, a NUL character, a text
longer than :data:`MAX_TEXT`, a cursor that is not one) is a :class:`BadQuery`, which the
handler answers with 400 and the reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from psycopg import sql

from toro_monitor import cursor
from toro_monitor.cursor import MAX_ID, MIN_ID, BadQuery, Cursor, Kind

__all__ = ["SORTS", "BadQuery", "Grouped", "JobQuery", "SortKey", "Walk", "parse"]


def _column(name: str) -> sql.Composable:
    # qualified, so that ORDER BY never picks the list's output column of the same name
    # (which holds a cut prefix of long text)
    return sql.Identifier("toro_jobs", name)


def _keyed(name: str) -> sql.Composable:
    """A column as the monitor's index holds it: in the "C" collation (migrations 0003 and
    0004), which the monitor names in every condition and order meant for it, and no other
    statement does (so a claim is never planned onto it)."""
    return sql.SQL('{} COLLATE "C"').format(_column(name))


#: Run time of a finished job; NULL when either end is infinite (PostgreSQL refuses to
#: subtract infinite timestamps).
DURATION = sql.SQL(
    "(CASE WHEN isfinite(toro_jobs.started_at) AND isfinite(toro_jobs.finished_at)"
    " THEN toro_jobs.finished_at - toro_jobs.started_at END)"
)


@dataclasses.dataclass(frozen=True)
class SortKey:
    """One way of sorting the list: its SQL expression and what its cursors carry."""

    label: str
    expression: sql.Composable
    #: Name of the list's column holding this key's value (``None`` for the id).
    column: str | None
    kind: Kind
    #: SQL type a cursor's value is cast to; ``None`` when the key is the id itself.
    cast: sql.Composable | None
    #: Whether the expression can be NULL (such keys sort NULLs last in both directions).
    nullable: bool
    #: Whether an index serves this order on any table size; the others are windowed.
    indexed: bool
    #: The column of a group ((status, queue, class_name) of the monitor's index) that holds
    #: this key's value, for the keys that are one.
    group_column: str | None = None


_TEXT, _TIME, _INTERVAL = sql.SQL("text"), sql.SQL("timestamptz"), sql.SQL("interval")
SORTS: dict[str, SortKey] = {
    "created": SortKey("Queued", _column("id"), None, "id", None, False, True),
    "queue": SortKey("Queue", _keyed("queue"), "queue", "text", _TEXT, False, True, "queue"),
    "class": SortKey(
        "Worker", _keyed("class_name"), "class_name", "text", _TEXT, False, True, "class_name"
    ),
    "status": SortKey("Status", _keyed("status"), "status", "text", _TEXT, False, True, "status"),
    "name": SortKey("Name", _column("name"), "name", "text", _TEXT, True, False),
    "started": SortKey("Started", _column("started_at"), "started_at", "time", _TIME, True, False),
    "duration": SortKey("Duration", DURATION, "duration", "interval", _INTERVAL, True, False),
}
DIRECTIONS = {"asc": (sql.SQL("ASC"), sql.SQL(">")), "desc": (sql.SQL("DESC"), sql.SQL("<"))}
#: Every query parameter the jobs list understands; any other is refused.
PARAMETERS = frozenset({"sort", "dir", "queue", "class", "status", "q", "after"})
#: Longest filter value accepted (the ``after`` cursor has its own limit).
MAX_TEXT = 200


@dataclasses.dataclass(frozen=True)
class JobQuery:
    """What the user asked the jobs list for."""

    sort: str = "created"
    direction: str = "desc"
    queue: str | None = None
    class_name: str | None = None
    status: str | None = None
    search: str | None = None
    #: Keyset cursor: after the last row of the previous page.
    after: Cursor | None = None

    @property
    def key(self) -> SortKey:
        return SORTS[self.sort]

    @property
    def windowed(self) -> bool:
        """Whether this query needs the newest-jobs window on a large table."""
        return bool(self.search) or not self.key.indexed

    def filters(self) -> dict[str, str]:
        """The active filters as query-string pairs (without sort and cursor)."""
        pairs = {
            "queue": self.queue,
            "class": self.class_name,
            "status": self.status,
            "q": self.search,
        }
        return {k: v for k, v in pairs.items() if v}

    def url_query(self, **changes: Any) -> str:
        """This query as a query string, with ``changes`` (``None`` removes a parameter)."""
        params: dict[str, Any] = {**self.filters()}
        if self.sort != "created":
            params["sort"] = self.sort
        if self.direction != "desc":
            params["dir"] = self.direction
        if self.after is not None:
            params["after"] = cursor.encode(self.after)
        for name, value in changes.items():
            name = "class" if name == "class_name" else name
            if value is None:
                params.pop(name, None)
            else:
                params[name] = value
        return urlencode(params)

    def sort_link(self, sort: str) -> str:
        """Query string sorting by ``sort``; sorting by the current key again flips direction."""
        direction = "asc" if self.sort == sort and self.direction == "desc" else "desc"
        return self.url_query(
            sort=None if sort == "created" else sort,
            dir=None if direction == "desc" else direction,
            after=None,
        )


def shown(text: str, limit: int = 40) -> str:
    """``text`` quoted for an error message, cut to ``limit`` characters."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def parse(params: Mapping[str, list[str]], statuses: set[str]) -> JobQuery:
    """Build a :class:`JobQuery` from the query string; raise :class:`BadQuery` on any value
    outside the fixed lists (unknown parameter, sort, direction or status, a bad cursor)."""
    unknown = set(params) - PARAMETERS
    if unknown:
        names = ", ".join(shown(name) for name in sorted(unknown)[:5])
        raise BadQuery(f"unknown parameter(s): {names}")

    def one(name: str, limit: int = MAX_TEXT) -> str | None:
        values = params.get(name) or []
        if len(values) > 1:
            raise BadQuery(f"parameter {name!r} given more than once")
        value = values[0].strip() if values else ""
        if len(value) > limit:
            raise BadQuery(f"parameter {name!r} is longer than {limit} characters")
        if "\x00" in value:
            raise BadQuery(f"parameter {name!r} contains a NUL character")
        return value or None

    sort = one("sort") or "created"
    if sort not in SORTS:
        raise BadQuery(f"unknown sort {shown(sort)}; known: {', '.join(SORTS)}")
    direction = one("dir") or "desc"
    if direction not in DIRECTIONS:
        raise BadQuery("dir must be 'asc' or 'desc'")
    status = one("status")
    if status is not None and status not in statuses:
        raise BadQuery(f"unknown status {shown(status)}")
    after = one("after", cursor.MAX_CURSOR)
    key = SORTS[sort]
    return JobQuery(
        sort=sort,
        direction=direction,
        queue=one("queue"),
        class_name=one("class"),
        status=status,
        search=one("q"),
        after=cursor.decode(after, key.kind, key.nullable) if after else None,
    )


def cursor_for(query: JobQuery, row: Mapping[str, Any]) -> Cursor:
    """The cursor that continues after ``row`` in ``query``'s order."""
    key = query.key
    value = None if key.column is None else row[key.column]
    return cursor.for_row(key.kind, value, row["id"])


def filter_sql(query: JobQuery, floor: int | None) -> tuple[sql.Composable, dict[str, Any]]:
    """The WHERE condition of the filters (and the newest-jobs window when ``floor`` is set)."""
    parts: list[sql.Composable] = [sql.SQL("TRUE")]
    params: dict[str, Any] = {}
    if query.queue:
        parts.append(sql.SQL('queue COLLATE "C" = %(queue)s'))
        params["queue"] = query.queue
    if query.class_name:
        parts.append(sql.SQL('class_name COLLATE "C" = %(class_name)s'))
        params["class_name"] = query.class_name
    if query.status:
        parts.append(sql.SQL('status COLLATE "C" = %(status)s'))
        # the predicate of the indexes that serve it, written out: a condition in another
        # collation proves no partial index's predicate
        running = query.status == "running"
        parts.append(sql.SQL("status = 'running'" if running else "status <> 'running'"))
        params["status"] = query.status
    if query.search:
        parts.append(sql.SQL("name ILIKE %(search)s"))
        params["search"] = "%" + escape_like(query.search) + "%"
    if floor is not None:
        parts.append(sql.SQL("id > %(floor)s"))
        params["floor"] = floor
    return sql.SQL(" AND ").join(parts), params


def search_sql(query: JobQuery) -> tuple[sql.Composable, dict[str, Any]]:
    """The search's condition on a job ``t`` (``TRUE`` without a search)."""
    if not query.search:
        return sql.SQL("TRUE"), {}
    return sql.SQL("t.name ILIKE %(search)s"), {"search": "%" + escape_like(query.search) + "%"}


def keyset_sql(query: JobQuery) -> tuple[sql.Composable, dict[str, Any]]:
    """The condition that selects rows after the cursor in the chosen order (NULLs last)."""
    after = query.after
    if after is None:
        return sql.SQL("TRUE"), {}
    key = query.key
    _, op = DIRECTIONS[query.direction]
    params: dict[str, Any] = {"after_id": after.id}
    expr = key.expression
    if key.cast is None:
        return sql.SQL("{} {} %(after_id)s").format(expr, op), params
    if after.by_reference:
        value: sql.Composable = sql.SQL(
            "(SELECT {} FROM toro_jobs WHERE toro_jobs.id = %(after_id)s)"
        ).format(expr)
    elif after.value is None:
        return sql.SQL("({} IS NULL AND {} {} %(after_id)s)").format(
            expr, _column("id"), op
        ), params
    else:
        params["after_value"] = after.value
        value = sql.SQL("%(after_value)s::{}").format(key.cast)
    row_id = _column("id")
    if not key.nullable:
        return sql.SQL("({}, {}) {} ({}, %(after_id)s)").format(expr, row_id, op, value), params
    return (
        sql.SQL("({e} {op} {v} OR ({e} = {v} AND {i} {op} %(after_id)s) OR {e} IS NULL)").format(
            e=expr, op=op, v=value, i=row_id
        ),
        params,
    )


def order_sql(query: JobQuery) -> sql.Composable:
    key = query.key
    word, _ = DIRECTIONS[query.direction]
    if key.cast is None:
        return sql.SQL("{} {}").format(key.expression, word)
    nulls = sql.SQL(" NULLS LAST") if key.nullable else sql.SQL("")
    return sql.SQL("{} {}{}, {} {}").format(key.expression, word, nulls, _column("id"), word)


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# ---------------------------------------------------------------------- groups
# The monitor's index is keyed (status, queue, class_name, id) (migration 0004): the jobs at
# rest of one group, a (status, queue, class_name), are a range of it in id order. A filtered
# list, its count and a bulk action first find the groups its filters match (the ``groups``
# query, a walk that descends the index once per group) and then read each group's range.


@dataclasses.dataclass(frozen=True)
class Walk:
    """The ``groups`` query's fragments for a set of filters: where the walk starts, while it
    goes on, and which of the groups it meets are kept."""

    start: sql.Composable
    within: sql.Composable
    matching: sql.Composable
    params: dict[str, Any]


def walk_sql(query: JobQuery, statuses: list[str] | None = None) -> Walk:
    """The walk for ``query``'s queue, class and status filters (the search and sort play no
    part), keeping only groups of ``statuses`` when given. A status filter, alone or with a
    queue (and a class), is a range of the index: the walk starts at its beginning and stops
    at its end; other filters are checked on each group met."""
    params: dict[str, Any] = {}
    start: sql.Composable = sql.SQL("TRUE")
    within: sql.Composable = sql.SQL("TRUE")
    matching: list[sql.Composable] = [sql.SQL("TRUE")]
    # in the index's order: the filters given first in it are a prefix of its key
    filters = (("status", query.status), ("queue", query.queue), ("class_name", query.class_name))
    for column, value in filters:
        if value is not None:
            params[f"w_{column}"] = value
            matching.append(
                sql.SQL('g.{} COLLATE "C" = {}').format(
                    sql.Identifier(column), sql.Placeholder(f"w_{column}")
                )
            )
    if statuses is not None:
        params["w_statuses"] = statuses
        matching.append(sql.SQL('g.status COLLATE "C" = ANY(%(w_statuses)s::text[])'))
    prefix: list[str] = []
    for column, value in filters:
        if value is None:
            break
        prefix.append(column)
    if prefix:
        keyed = sql.SQL(", ").join(
            sql.SQL('{} COLLATE "C"').format(sql.Identifier(c)) for c in prefix
        )
        values = sql.SQL(", ").join(sql.Placeholder(f"w_{c}") for c in prefix)
        start = sql.SQL("({}) >= ({})").format(keyed, values)
        within = sql.SQL(" AND ").join(matching[1 : len(prefix) + 1])
    return Walk(start, within, sql.SQL(" AND ").join(matching), params)


@dataclasses.dataclass(frozen=True)
class Grouped:
    """The ``list_rows_grouped`` fragments for a query's order and cursor."""

    bound: sql.Composable
    group_filter: sql.Composable
    group_order: sql.Composable
    direction: sql.Composable
    params: dict[str, Any]


def grouped_sql(query: JobQuery) -> Grouped:
    """How a page of ``query`` (an indexed sort) reads the groups: each group's jobs in id
    order (the sort key, when it is not the id, is the same for all of a group's jobs, so
    groups are merged by key and then id), and the keyset cursor turned into a bound on the
    id within each group: after the cursor's id in the group of the cursor's value, every job
    in the groups past it, none in the groups before."""
    key = query.key
    word, op = DIRECTIONS[query.direction]
    column = key.group_column
    order: sql.Composable = sql.SQL("x.id {}").format(word)
    if column is not None:
        order = sql.SQL('g.{} COLLATE "C" {}, x.id {}').format(sql.Identifier(column), word, word)
    after = query.after
    params: dict[str, Any] = {}
    bound: sql.Composable = sql.SQL("TRUE")
    group_filter: sql.Composable = sql.SQL("TRUE")
    if after is not None and column is None:
        params["after_id"] = after.id
        bound = sql.SQL("t.id {} %(after_id)s").format(op)
    elif after is not None and column is not None:
        value: sql.Composable
        if after.by_reference:
            value = sql.SQL(
                'SELECT toro_jobs.{} COLLATE "C" FROM toro_jobs WHERE toro_jobs.id = %(after_id)s'
            ).format(sql.Identifier(column))
            value = sql.SQL("({})").format(value)
            params["after_id"] = after.id
        else:  # text keys have no empty values (cursor.decode refuses them)
            params["after_value"] = after.value
            value = sql.SQL("%(after_value)s::text")
        grouped = sql.SQL('g.{} COLLATE "C"').format(sql.Identifier(column))
        # the next id within the cursor's group, inclusive (so a bound exists for the others)
        edge = after.id - 1 if query.direction == "desc" else after.id + 1
        if MIN_ID <= edge <= MAX_ID:
            params["edge"] = edge
            extreme = MAX_ID if query.direction == "desc" else MIN_ID
            inclusive = sql.SQL("<=" if query.direction == "desc" else ">=")
            group_filter = sql.SQL("{} {} {}").format(grouped, inclusive, value)
            bound = sql.SQL("t.id {} CASE WHEN {} = {} THEN %(edge)s ELSE {} END").format(
                inclusive, grouped, value, sql.Literal(extreme)
            )
        else:  # the cursor is at the end of its group: only the groups past it
            group_filter = sql.SQL("{} {} {}").format(grouped, op, value)
    return Grouped(bound, group_filter, order, word, params)
