"""The jobs list's query string: parsed, checked against fixed lists, and turned into SQL.

Every sort key maps to a fixed SQL fragment and every filter to a fixed condition with a bound
parameter; text from the request only ever reaches the database as a parameter value.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from psycopg import sql


class BadQuery(ValueError):
    """A query-string value is not one the jobs list accepts (answered with 400)."""


@dataclasses.dataclass(frozen=True)
class SortKey:
    """One way of sorting the list: its SQL expression and how a cursor value is cast."""

    label: str
    expression: sql.Composable
    #: SQL type the cursor's value is cast to; ``None`` when the key is the id itself.
    cast: sql.Composable | None
    #: Whether the expression can be NULL (such keys sort NULLs last in both directions).
    nullable: bool
    #: Whether an index serves this order on any table size; the others are windowed.
    indexed: bool


SORTS: dict[str, SortKey] = {
    "created": SortKey("Queued", sql.Identifier("id"), None, False, True),
    "queue": SortKey("Queue", sql.Identifier("queue"), sql.SQL("text"), False, True),
    "class": SortKey("Worker", sql.Identifier("class_name"), sql.SQL("text"), False, True),
    "status": SortKey("Status", sql.Identifier("status"), sql.SQL("text"), False, True),
    "name": SortKey("Name", sql.Identifier("name"), sql.SQL("text"), True, False),
    "started": SortKey(
        "Started", sql.Identifier("started_at"), sql.SQL("timestamptz"), True, False
    ),
    "duration": SortKey(
        "Duration", sql.SQL("(finished_at - started_at)"), sql.SQL("interval"), True, False
    ),
}
DIRECTIONS = {"asc": (sql.SQL("ASC"), sql.SQL(">")), "desc": (sql.SQL("DESC"), sql.SQL("<"))}
#: Every query parameter the jobs list understands; any other is refused.
PARAMETERS = frozenset({"sort", "dir", "queue", "class", "status", "q", "after"})
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
    #: Keyset cursor: the sort value and id of the last row of the previous page.
    after: tuple[Any, int] | None = None

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
            params["after"] = encode_cursor(self.after)
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


def parse(params: Mapping[str, list[str]], statuses: set[str]) -> JobQuery:
    """Build a :class:`JobQuery` from the query string; raise :class:`BadQuery` on any value
    outside the fixed lists (unknown parameter, sort, direction or status, a bad cursor)."""
    unknown = set(params) - PARAMETERS
    if unknown:
        raise BadQuery(f"unknown parameter(s): {', '.join(sorted(unknown))}")

    def one(name: str) -> str | None:
        values = params.get(name) or []
        if len(values) > 1:
            raise BadQuery(f"parameter {name!r} given more than once")
        value = values[0].strip() if values else ""
        if len(value) > MAX_TEXT:
            raise BadQuery(f"parameter {name!r} is longer than {MAX_TEXT} characters")
        return value or None

    sort = one("sort") or "created"
    if sort not in SORTS:
        raise BadQuery(f"unknown sort {sort!r}; known: {', '.join(SORTS)}")
    direction = one("dir") or "desc"
    if direction not in DIRECTIONS:
        raise BadQuery("dir must be 'asc' or 'desc'")
    status = one("status")
    if status is not None and status not in statuses:
        raise BadQuery(f"unknown status {status!r}")
    cursor = one("after")
    return JobQuery(
        sort=sort,
        direction=direction,
        queue=one("queue"),
        class_name=one("class"),
        status=status,
        search=one("q"),
        after=decode_cursor(cursor) if cursor else None,
    )


def cursor_for(query: JobQuery, row: Mapping[str, Any]) -> tuple[Any, int]:
    """The cursor that continues after ``row`` in ``query``'s order."""
    column = {
        "created": None,
        "queue": "queue",
        "class": "class_name",
        "status": "status",
        "name": "name",
        "started": "started_at",
        "duration": "duration",
    }[query.sort]
    value = None if column is None else row[column]
    if isinstance(value, datetime.timedelta):
        value = f"{value.total_seconds()} seconds"
    elif isinstance(value, datetime.datetime):
        value = value.isoformat()
    return (value, row["id"])


def encode_cursor(after: tuple[Any, int]) -> str:
    raw = json.dumps([after[0], after[1]], default=str, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[Any, int]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        value, last_id = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise BadQuery("bad cursor") from exc
    if not isinstance(last_id, int) or not (value is None or isinstance(value, str | int)):
        raise BadQuery("bad cursor")
    return (value, last_id)


def filter_sql(query: JobQuery, floor: int | None) -> tuple[sql.Composable, dict[str, Any]]:
    """The WHERE condition of the filters (and the newest-jobs window when ``floor`` is set)."""
    parts: list[sql.Composable] = [sql.SQL("TRUE")]
    params: dict[str, Any] = {}
    if query.queue:
        parts.append(sql.SQL("queue = %(queue)s"))
        params["queue"] = query.queue
    if query.class_name:
        parts.append(sql.SQL("class_name = %(class_name)s"))
        params["class_name"] = query.class_name
    if query.status:
        parts.append(sql.SQL("status = %(status)s"))
        params["status"] = query.status
    if query.search:
        parts.append(sql.SQL("name ILIKE %(search)s"))
        params["search"] = "%" + escape_like(query.search) + "%"
    if floor is not None:
        parts.append(sql.SQL("id > %(floor)s"))
        params["floor"] = floor
    return sql.SQL(" AND ").join(parts), params


def keyset_sql(query: JobQuery) -> tuple[sql.Composable, dict[str, Any]]:
    """The condition that selects rows after the cursor in the chosen order (NULLs last)."""
    if query.after is None:
        return sql.SQL("TRUE"), {}
    key = query.key
    _, op = DIRECTIONS[query.direction]
    value, last_id = query.after
    params: dict[str, Any] = {"after_id": last_id}
    if key.cast is None:
        return sql.SQL("id {} %(after_id)s").format(op), params
    expr = key.expression
    if value is None:
        if not key.nullable:
            raise BadQuery("bad cursor")
        return sql.SQL("({} IS NULL AND id {} %(after_id)s)").format(expr, op), params
    params["after_value"] = str(value)
    typed = sql.SQL("%(after_value)s::{}").format(key.cast)
    if not key.nullable:
        return sql.SQL("({}, id) {} ({}, %(after_id)s)").format(expr, op, typed), params
    return (
        sql.SQL("({e} {op} {v} OR ({e} = {v} AND id {op} %(after_id)s) OR {e} IS NULL)").format(
            e=expr, op=op, v=typed
        ),
        params,
    )


def order_sql(query: JobQuery) -> sql.Composable:
    key = query.key
    word, _ = DIRECTIONS[query.direction]
    if key.cast is None:
        return sql.SQL("id {}").format(word)
    nulls = sql.SQL(" NULLS LAST") if key.nullable else sql.SQL("")
    return sql.SQL("{}{}{}, id {}").format(key.expression, sql.SQL(" ") + word, nulls, word)


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
