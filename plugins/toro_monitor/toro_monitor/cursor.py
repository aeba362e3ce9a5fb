"""Keyset cursors of the jobs list: the sort value and id of the last row of a page, in the URL.

A cursor is URL-safe base64 of a JSON list: ``[value, id]``, or ``[id]`` when the value could
not travel (a text longer than the list shows, a time or interval outside Python's range): the
next page then reads the value from that job's row. Anything else, including a value of the
wrong type for the sort, is a :class:`BadQuery`: the cursor came from the URL, so from anyone.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import json
import re
from decimal import Decimal
from typing import Any, Literal

from toro_monitor.limits import LIST_TEXT

#: Kind of value a sort key carries in its cursors.
Kind = Literal["id", "text", "time", "interval"]
#: Job ids are ``bigint``.
MIN_ID, MAX_ID = -(2**63), 2**63 - 1
#: Longest text value a cursor carries (the list shows this many characters of a name).
MAX_VALUE = LIST_TEXT
#: Longest ``after`` parameter accepted.
MAX_CURSOR = 2048
_SECONDS = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)? seconds")
_MAX_SECONDS = datetime.timedelta.max.total_seconds()


class BadQuery(ValueError):
    """A query-string value is not one the jobs list accepts (answered with 400)."""


@dataclasses.dataclass(frozen=True)
class Cursor:
    """Where a page continues: after the row with this sort value and id."""

    #: The sort value as Python (``str``, ``datetime``, ``timedelta``), or ``None``.
    value: Any
    id: int
    #: The value did not travel; the query reads it from the row with ``id``.
    by_reference: bool = False


def check_id(value: Any, what: str = "job id") -> int:
    """``value`` as a job id: an integer (not a boolean) within ``bigint``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadQuery(f"{what} must be an integer")
    if not MIN_ID <= value <= MAX_ID:
        raise BadQuery(f"{what} is out of range")
    return value


def for_row(kind: Kind, value: Any, row_id: int) -> Cursor:
    """The cursor after a row whose sort value is ``value`` (as the list selected it: text
    cut one character past :data:`MAX_VALUE`, a time Python cannot hold as text)."""
    if kind == "id" or value is None:
        return Cursor(None, row_id)
    if kind == "text" and isinstance(value, str) and len(value) <= MAX_VALUE:
        return Cursor(value, row_id)
    if kind == "time" and isinstance(value, datetime.datetime) and value.tzinfo:
        return Cursor(value, row_id)
    if kind == "interval" and isinstance(value, datetime.timedelta):
        return Cursor(value, row_id)
    return Cursor(None, row_id, by_reference=True)


def encode(cursor: Cursor) -> str:
    if cursor.by_reference:
        wire: list[Any] = [cursor.id]
    elif isinstance(cursor.value, datetime.datetime):
        wire = [cursor.value.isoformat(), cursor.id]
    elif isinstance(cursor.value, datetime.timedelta):
        wire = [seconds_text(cursor.value), cursor.id]
    else:
        wire = [cursor.value, cursor.id]
    raw = json.dumps(wire, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def seconds_text(value: datetime.timedelta) -> str:
    """``value`` as ``"<seconds> seconds"``, exact to the microsecond at any size (a float
    would round long durations, and the next page would repeat or skip rows)."""
    micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    sign = "-" if micros < 0 else ""
    whole, fraction = divmod(abs(micros), 1_000_000)
    return f"{sign}{whole}.{fraction:06d} seconds"


def decode(text: str, kind: Kind, nullable: bool) -> Cursor:
    """The cursor ``text`` for a sort key of ``kind``; :class:`BadQuery` when it is not one."""
    if len(text) > MAX_CURSOR:
        raise BadQuery("bad cursor: too long")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        wire = json.loads(raw)
    except (ValueError, TypeError, binascii.Error, RecursionError) as exc:
        raise BadQuery("bad cursor: not a cursor of this list") from exc
    if not isinstance(wire, list) or len(wire) not in (1, 2):
        raise BadQuery("bad cursor: not a cursor of this list")
    row_id = check_id(wire[-1], "the cursor's id")
    if len(wire) == 1:
        if kind == "id":
            raise BadQuery("bad cursor: this sort needs no value")
        return Cursor(None, row_id, by_reference=True)
    value = wire[0]
    if value is None:
        if kind != "id" and not nullable:
            raise BadQuery("bad cursor: this sort has no empty values")
        return Cursor(None, row_id)
    return Cursor(_value(kind, value), row_id)


def _value(kind: Kind, value: Any) -> Any:
    if kind == "id":
        raise BadQuery("bad cursor: this sort needs no value")
    if not isinstance(value, str):
        raise BadQuery("bad cursor: the value must be text")
    if "\x00" in value:
        raise BadQuery("bad cursor: NUL character in the value")
    if kind == "text":
        if len(value) > MAX_VALUE:
            raise BadQuery("bad cursor: value too long")
        return value
    if kind == "time":
        try:
            moment = datetime.datetime.fromisoformat(value)
        except ValueError as exc:
            raise BadQuery("bad cursor: the value is not a time in range") from exc
        if moment.tzinfo is None:
            raise BadQuery("bad cursor: the time has no time zone")
        return moment
    if not _SECONDS.fullmatch(value):
        raise BadQuery("bad cursor: the value is not a duration")
    try:
        seconds = Decimal(value.split()[0])
        if not seconds.is_finite() or abs(seconds) >= _MAX_SECONDS:
            raise OverflowError
        return datetime.timedelta(microseconds=int(seconds * 1_000_000))
    except (OverflowError, ArithmeticError) as exc:
        raise BadQuery("bad cursor: the duration is out of range") from exc
