"""JSON that no depth breaks: parse, print and preview without recursion.

``json.loads`` and ``json.dumps`` recurse once per nesting level and raise ``RecursionError``
near 1,000 levels, while PostgreSQL's ``jsonb`` stores documents some 10,000 levels deep. The
monitor parses what it reads with :func:`loads` (``json.loads``, then an iterative parser when
that runs out of stack) and prints with :func:`pretty` and :func:`compact`, which walk with
an explicit stack and stop at a character budget, so a huge value costs no more than the
part that is shown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

#: One JSON token, after optional whitespace. Strings use the unrolled-loop form, which the
#: regex engine matches in linear time.
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<open>[\[{])
    | (?P<close>[\]}])
    | (?P<punct>[,:])
    | (?P<string>"[^"\\]*(?:\\.[^"\\]*)*")
    | (?P<literal>true|false|null)
    | (?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
    )""",
    re.VERBOSE | re.DOTALL,
)
_LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None}
_NO_KEY = object()
_END: Any = object()


def parse_int(token: str) -> int | Decimal:
    """An integer; one longer than Python converts (4,300 digits; ``jsonb`` holds far longer
    ones) as a :class:`~decimal.Decimal`."""
    try:
        return int(token)
    except ValueError:
        return Decimal(token)


def loads(text: str | bytes) -> Any:
    """Parse JSON of any nesting depth and any integer size (``ValueError`` on text that is
    not JSON)."""
    if isinstance(text, bytes | bytearray | memoryview):
        text = bytes(text).decode()
    try:
        return json.loads(text, parse_int=parse_int)
    except RecursionError:
        return _deep_loads(text)


def _scalar(kind: str, token: str) -> Any:
    if kind == "string":
        return json.loads(token)
    if kind == "literal":
        return _LITERALS[token]
    if any(c in token for c in ".eE"):
        return float(token)
    return parse_int(token)


def _deep_loads(text: str) -> Any:
    """The iterative parser: containers on an explicit stack, scalars through ``json``.

    It trusts the text's punctuation (PostgreSQL wrote it) but still refuses what is not a
    sequence of JSON tokens, an unbalanced bracket or trailing text.
    """
    stack: list[dict[str, Any] | list[Any]] = []
    keys: list[Any] = []
    pos = 0
    while True:
        match = _TOKEN.match(text, pos)
        if match is None or match.lastgroup is None:
            raise ValueError(f"not JSON at character {pos}")
        pos = match.end()
        kind, token = match.lastgroup, match.group(match.lastgroup)
        if kind == "punct":
            continue
        if kind == "open":
            stack.append({} if token == "{" else [])
            keys.append(_NO_KEY)
            continue
        if kind == "close":
            if not stack or (token == "}") != isinstance(stack[-1], dict):
                raise ValueError(f"unbalanced {token!r} at character {pos}")
            value: Any = stack.pop()
            keys.pop()
        else:
            value = _scalar(kind, token)
            if stack and isinstance(stack[-1], dict) and keys[-1] is _NO_KEY:
                keys[-1] = value
                continue
        if not stack:
            if text[pos:].strip():
                raise ValueError(f"extra text at character {pos}")
            return value
        parent = stack[-1]
        if isinstance(parent, dict):
            parent[keys[-1]] = value
            keys[-1] = _NO_KEY
        else:
            parent.append(value)


def scalar_text(value: Any) -> str:
    """One JSON scalar (any other value as its ``str``, quoted)."""
    return json.dumps(value, ensure_ascii=False, default=str)


def _key_text(key: Any) -> str:
    return json.dumps(key if isinstance(key, str) else str(key), ensure_ascii=False)


def is_container(value: Any) -> bool:
    return isinstance(value, Mapping | list | tuple)


def chunks(value: Any, indent: int | None = None) -> Iterator[str]:
    """The JSON text of ``value`` in pieces, without recursion: as ``json.dumps(value,
    indent=indent, ensure_ascii=False, default=str)`` would write it."""
    item_sep = "," if indent is not None else ", "
    stack: list[list[Any]] = []  # [items iterator, is mapping, first item still to come]

    def line(depth: int) -> str:
        return "" if indent is None else "\n" + " " * (indent * depth)

    def enter(item: Any) -> str:
        if isinstance(item, Mapping):
            if not item:
                return "{}"
            stack.append([iter(item.items()), True, True])
            return "{"
        if isinstance(item, list | tuple):
            if not item:
                return "[]"
            stack.append([iter(item), False, True])
            return "["
        return scalar_text(item)

    yield enter(value)
    while stack:
        frame = stack[-1]
        depth = len(stack)
        item = next(frame[0], _END)
        if item is _END:
            stack.pop()
            yield line(depth - 1) + ("}" if frame[1] else "]")
            continue
        prefix = ("" if frame[2] else item_sep) + line(depth)
        frame[2] = False
        if frame[1]:
            key, item = item
            prefix += _key_text(key) + ": "
        yield prefix + enter(item)


def _cut(pieces: Iterator[str], limit: int) -> tuple[str, bool]:
    out: list[str] = []
    size = 0
    for piece in pieces:
        out.append(piece)
        size += len(piece)
        if size > limit:
            return "".join(out)[:limit], True
    return "".join(out), False


def pretty(value: Any, limit: int) -> tuple[str, bool]:
    """Indented JSON of ``value``, at most ``limit`` characters; ``(text, was cut)``."""
    return _cut(chunks(value, indent=2), limit)


def compact(value: Any, limit: int) -> tuple[str, bool]:
    """One-line JSON of ``value``, at most ``limit`` characters; ``(text, was cut)``."""
    return _cut(chunks(value), limit)
