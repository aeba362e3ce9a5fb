"""JSON checks for job arguments and properties, and the guarded decoding of claimed rows.

Arguments are stored as a ``jsonb`` array, so only JSON values are accepted: ``None``, ``bool``,
``int``, finite ``float``, ``str``, lists and tuples of them, and dicts with ``str`` keys. Two
limits keep every value readable by any worker process:

* lists and dicts nest at most :data:`MAX_DEPTH` (100) levels inside one argument, keyword
  argument or property (a list argument is one level, a list inside it two);
* integers have at most :data:`MAX_INT_DIGITS` (4,300) decimal digits, the most Python reads
  back from text by default (pass larger numbers as strings).

The check runs before anything is written and names the offending argument and where inside it
the bad value sits. On the way back, :func:`decode_document` reads a column's JSON text and
refuses, with a reason, what breaks those limits (a row written by other means than toro).
"""

from __future__ import annotations

import json
import json.encoder
import math
from collections.abc import Callable, Sequence
from typing import Any

#: The deepest lists and dicts may nest inside one argument, keyword argument or property.
MAX_DEPTH = 100
#: The most decimal digits an integer in job data may have (Python's default limit for
#: reading an integer from text, ``sys.int_info.default_max_str_digits``).
MAX_INT_DIGITS = 4300
_INT_BOUND = 10**MAX_INT_DIGITS
#: JSON text this short cannot break either limit (a depth over MAX_DEPTH takes more brackets).
_SHORT = 2 * MAX_DEPTH

_SCALARS = (str, bool, type(None))


def _find_problem(value: Any, path: str) -> str | None:
    """Describe the first value inside ``value`` that is not JSON or breaks a limit, or
    return ``None``. Iterative, so any nesting is described rather than overflowing the stack.
    """
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, _SCALARS):
            continue
        if isinstance(item, int):
            if not -_INT_BOUND < item < _INT_BOUND:
                return (
                    f"{where} is an integer of more than {MAX_INT_DIGITS} digits, the most job "
                    "data may hold (pass it as a string)"
                )
            continue
        if isinstance(item, float):
            if math.isfinite(item):
                continue
            return f"{where} is {item!r}, which JSON cannot hold"
        if isinstance(item, (list, tuple, dict)):
            if depth >= MAX_DEPTH:
                return (
                    f"{path} nests lists and dicts more than {MAX_DEPTH} levels deep, the most "
                    "job data may nest"
                )
            children: list[tuple[Any, str, int]] = []
            if isinstance(item, dict):
                for key, child in item.items():
                    if not isinstance(key, str):
                        # Reported at once: it comes before anything inside its value.
                        return (
                            f"{where} has a key {key!r} of type {type(key).__name__}; "
                            "JSON keys are strings"
                        )
                    children.append((child, f"{where}[{key!r}]", depth + 1))
            else:
                children = [(c, f"{where}[{i}]", depth + 1) for i, c in enumerate(item)]
            stack.extend(reversed(children))
            continue
        return f"{where} is a {type(item).__module__}.{type(item).__qualname__}, not a JSON value"
    return None


def _refuse(value: Any) -> Any:
    raise TypeError(f"a {type(value).__qualname__} is not a JSON value")


# One encoder made once: ``json.dumps`` with options builds an encoder at every call, and the
# encoder's ``encode`` builds its C encoder again each time. Without the C module (another
# Python implementation), the pure-Python encoder does the same work.
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
_MAKE_C_ENCODER = getattr(json.encoder, "c_make_encoder", None)
_C_ENCODE = (
    None
    if _MAKE_C_ENCODER is None
    else _MAKE_C_ENCODER(
        None, _refuse, json.encoder.encode_basestring, None, ":", ",", False, False, False
    )
)


def dumps(value: Any) -> str:
    """Compact JSON text of an already checked value (a ``TypeError`` or ``ValueError`` for
    what JSON cannot hold, a ``RecursionError`` for a value that contains itself)."""
    if _C_ENCODE is None:
        return _ENCODE(value)
    return "".join(_C_ENCODE(value, 0))


def _try_dumps(value: Any) -> str | None:
    """:func:`dumps`, or ``None`` when ``value`` is not JSON (or nests past the stack)."""
    try:
        return dumps(value)
    except (TypeError, ValueError, RecursionError):
        return None


def _reads_back(text: str, value: Any) -> bool:
    """Whether ``text``, which :func:`dumps` made of ``value``, reads back as ``value``.

    ``json.dumps`` writes an ``int``, ``float``, ``bool`` or ``None`` dict key as a string
    without a word; reading the text back and comparing finds it (and a tuple inside, which
    compares unequal to the list it becomes: the slow check then accepts it). Text without a
    ``{`` holds no dict, so nothing to read.
    """
    return "{" not in text or json.loads(text) == value


def _vetted(text: str | None, value: Any) -> bool:
    """Whether ``text`` (:func:`dumps` of ``value``, ``None`` if it failed) is known good
    without walking ``value``: it exists, cannot break a limit, and reads back as ``value``."""
    return text is not None and not may_break_limits(text) and _reads_back(text, value)


def encode_args(args: Sequence[Any], *, owner: str) -> str:
    """The JSON array text of ``args``; a ``TypeError`` naming the argument if one is not JSON
    or breaks a limit (:data:`MAX_DEPTH`, :data:`MAX_INT_DIGITS`).

    ``owner`` names the call in the message, such as ``"MyWorker.perform_async"``.
    """
    values = list(args)
    text = _try_dumps(values)
    if _vetted(text, values):
        return text  # type: ignore[return-value]  # _vetted is false for None
    for index, arg in enumerate(values):
        problem = _find_problem(arg, f"argument {index}")
        if problem:
            raise TypeError(f"{owner}: {problem}; nothing was enqueued") from None
    if text is None:
        raise TypeError(f"{owner}: arguments are not JSON; nothing was enqueued")
    return text


def encode_many(
    values: Sequence[Any], encode: Callable[[Any, str], str], owner: Callable[[int], str]
) -> list[str]:
    """The JSON text of each of ``values`` (the arguments or keyword arguments of a bulk
    enqueue), checked as a whole: each is dumped, its length tells it cannot break a limit,
    and reading them back, a hundred at a time, finds a coerced dict key. When that is not enough,
    ``encode(value, owner(index))`` checks each in turn and raises for the first bad one.
    """
    texts = _dump_each(values)
    if (
        texts is not None
        and (max(map(len, texts), default=0) <= _SHORT or not any(map(may_break_limits, texts)))
        and _all_read_back(texts, values)
    ):
        return texts
    return [encode(value, owner(index)) for index, value in enumerate(values)]


#: How many values of a bulk :func:`_all_read_back` reads back at once.
READ_BACK_CHUNK = 100


def _all_read_back(texts: Sequence[str], values: Sequence[Any]) -> bool:
    """Whether each of ``texts`` reads back as its value of ``values``, read
    :data:`READ_BACK_CHUNK` at a time (one parse per chunk, no Python call per value).

    A chunk's lists and dicts are freed before the next is read, so they never number more
    than the garbage collector lets pass between two collections: read all at once, a bulk of
    10,000 jobs held 30,000 new containers, which ran the collector 40 times and, about one
    bulk in two, for a full collection of every object of the process (10 to 15 ms, a tenth of
    the bulk's time).
    """
    for start in range(0, len(texts), READ_BACK_CHUNK):
        chunk = texts[start : start + READ_BACK_CHUNK]
        joined = "[" + ",".join(chunk) + "]"
        if "{" not in joined:
            continue
        # JSON reads a tuple of arguments back as a list
        expected = [list(v) if type(v) is tuple else v for v in values[start : start + len(chunk)]]
        if json.loads(joined) != expected:
            return False
    return True


def _dump_each(values: Sequence[Any]) -> list[str] | None:
    """:func:`dumps` of each of ``values`` (no Python call per value), or ``None`` when one is
    not JSON."""
    try:
        if _C_ENCODE is None:
            return [_ENCODE(value) for value in values]
        return ["".join(_C_ENCODE(value, 0)) for value in values]
    except (TypeError, ValueError, RecursionError):
        return None


def encode_properties(properties: dict[str, Any], *, owner: str) -> str:
    """The JSON object text of ``properties``; a ``TypeError`` naming the key if a value is not
    JSON or breaks a limit."""
    text = _try_dumps(properties)
    if _vetted(text, properties):
        return text  # type: ignore[return-value]
    for key, value in properties.items():
        problem = (
            f"property key {key!r} is not a string"
            if not isinstance(key, str)
            else _find_problem(value, f"property {key!r}")
        )
        if problem:
            raise TypeError(f"{owner}: {problem}; nothing was enqueued")
    if text is None:
        raise TypeError(f"{owner}: properties are not JSON; nothing was enqueued")
    return text


def check_json(value: Any, *, path: str) -> str | None:
    """Describe why ``value`` is not JSON or breaks a limit, or return ``None`` when it is
    fine; ``path`` names it in the description (``"property 'x'"``)."""
    return _find_problem(value, path)


def may_break_limits(text: str) -> bool:
    """Whether JSON ``text`` may nest deeper than :data:`MAX_DEPTH` or hold an integer longer
    than :data:`MAX_INT_DIGITS` (a cheap test on the text; ``False`` means it cannot)."""
    if len(text) <= _SHORT:
        return False
    return len(text) > MAX_INT_DIGITS or text.count("[") + text.count("{") > MAX_DEPTH


def encode_kwargs(kwargs: dict[str, Any], *, owner: str) -> str:
    """The JSON object text of ``perform``'s keyword arguments; a ``TypeError`` naming the
    keyword if a value is not JSON or breaks a limit (a psycopg connection gets a hint: pass it
    to ``set()``)."""
    if not kwargs:
        return "{}"
    text = _try_dumps(kwargs)
    if _vetted(text, kwargs):
        return text  # type: ignore[return-value]
    for name, value in kwargs.items():
        if type(value).__module__.startswith("psycopg"):
            raise TypeError(
                f"{owner}: keyword argument {name!r} is a {type(value).__qualname__}: to enqueue "
                f"in a transaction use .set({name}=...) (MyWorker.set(connection=conn)"
                ".perform_async(...)); nothing was enqueued"
            )
        problem = _find_problem(value, f"keyword argument {name!r}")
        if problem:
            raise TypeError(f"{owner}: {problem}; nothing was enqueued")
    if text is None:
        raise TypeError(f"{owner}: keyword arguments are not JSON; nothing was enqueued")
    return text


class UndecodableError(ValueError):
    """A JSON document read from the database breaks toro's limits or cannot be read."""


_EMPTY: dict[type, str] = {list: "[]", dict: "{}"}


def decode_document(text: str | None, kind: type[list[Any]] | type[dict[str, Any]]) -> Any:
    """Read one column's JSON text (``kind`` is ``list`` for args, ``dict`` for kwargs and
    properties; ``None`` reads as an empty one).

    Raises :class:`UndecodableError` with a short reason for what a worker could not use:
    nesting deeper than :data:`MAX_DEPTH` inside the document, an integer too long for
    Python to read, or a value of the wrong kind.
    """
    if text is None or text == _EMPTY[kind]:
        return kind()  # most kwargs and properties: nothing to parse
    try:
        value = json.loads(text)
    except RecursionError:
        raise UndecodableError(_too_deep()) from None
    except ValueError as exc:
        raise UndecodableError(str(exc)) from None
    if not isinstance(value, kind):
        raise UndecodableError(f"a JSON {type(value).__name__}, not {kind.__name__}")
    if may_break_limits(text) and _depth_over(value, MAX_DEPTH + 1):
        raise UndecodableError(_too_deep())
    return value


def _too_deep() -> str:
    return f"lists and dicts nested more than {MAX_DEPTH} levels deep"


def _depth_over(value: Any, limit: int) -> bool:
    """Whether lists and dicts nest more than ``limit`` levels in ``value`` (iterative)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, (list, dict)):
                if depth >= limit:
                    return True
                stack.append((child, depth + 1))
    return False


def arguments_digest(args: Sequence[Any], kwargs: dict[str, Any]) -> str:
    """A short stable digest of ``perform``'s arguments (the key of ``unique = True`` jobs):
    equal for equal JSON values, whatever the order of dict keys."""
    import hashlib

    text = json.dumps([list(args), kwargs], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]
