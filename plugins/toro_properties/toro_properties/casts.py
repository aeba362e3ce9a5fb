"""The property types an index can cast to, and which JSON values each cast accepts.

An expression index such as ``((properties ->> 'comments_count')::integer)`` is computed for
every row written to ``toro_jobs``. A job that stores ``"many"`` under an indexed ``int``
property would make PostgreSQL refuse the whole write, so the worker checks values of indexed
properties against the rules below before storing them. The rules are deliberately narrower
than PostgreSQL's input syntax: a value accepted here always casts; a value refused here is
recorded in ``properties:rejected`` instead of being stored.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from typing import Any

_INTEGER = re.compile(r"\s*[+-]?\d+\s*")
_DECIMAL = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")
_BOOLEAN_WORDS = frozenset(
    {"t", "true", "y", "yes", "on", "1", "f", "false", "n", "no", "off", "0"}
)
_FLOAT_MAX = 1.7976931348623157e308


def _integer_in(low: int, high: int) -> Callable[[Any], bool]:
    def accepts(value: Any) -> bool:
        if isinstance(value, bool):
            return False
        if isinstance(value, str):
            if not _INTEGER.fullmatch(value):
                return False
            value = int(value)
        return isinstance(value, int) and low <= value <= high

    return accepts


def _numeric(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str) and bool(_DECIMAL.fullmatch(value))


def _double(value: Any) -> bool:
    if not _numeric(value):
        return False
    try:
        number = float(value)  # a huge int or "1e999" overflows double precision
    except OverflowError:
        return False
    return math.isfinite(number) and abs(number) <= _FLOAT_MAX


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return value in (0, 1)
    return isinstance(value, str) and value.strip().lower() in _BOOLEAN_WORDS


def _anything(value: Any) -> bool:
    return True


@dataclasses.dataclass(frozen=True, slots=True)
class PropertyType:
    """One indexable type: its name in toro, the SQL type it casts to, and its value check."""

    name: str
    #: The SQL type name, ``None`` for text (``->>`` already yields text, no cast).
    sql_type: str | None
    #: ``True`` when PostgreSQL can cast the text of this JSON value to ``sql_type``.
    accepts: Callable[[Any], bool]
    #: How to write the cast in a query so that the planner matches the index.
    query_cast: str


TYPES: dict[str, PropertyType] = {
    t.name: t
    for t in (
        PropertyType("text", None, _anything, ""),
        PropertyType("int", "integer", _integer_in(-(2**31), 2**31 - 1), "::int"),
        PropertyType("bigint", "bigint", _integer_in(-(2**63), 2**63 - 1), "::bigint"),
        PropertyType("numeric", "numeric", _numeric, "::numeric"),
        PropertyType("float", "double precision", _double, "::float8"),
        PropertyType("bool", "boolean", _boolean, "::boolean"),
    )
}


def property_type(name: str) -> PropertyType:
    """The :class:`PropertyType` called ``name``; ``ValueError`` listing the choices if none."""
    try:
        return TYPES[name]
    except KeyError:
        raise ValueError(
            f"unknown property type {name!r}; choose one of {', '.join(TYPES)}"
        ) from None


def castable(value: Any, kind: PropertyType) -> bool:
    """Whether ``value`` (a JSON value) stored as a property survives ``kind``'s cast.

    ``None`` (JSON null) becomes SQL NULL, which every cast accepts. Objects and arrays become
    their JSON text, which only ``text`` accepts.
    """
    if value is None:
        return True
    if isinstance(value, (dict, list, tuple)):
        return kind.sql_type is None
    return kind.accepts(value)
