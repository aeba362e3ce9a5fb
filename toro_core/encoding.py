"""JSON checks for job arguments and properties.

Arguments are stored as a ``jsonb`` array, so only JSON values are accepted: ``None``, ``bool``,
``int``, finite ``float``, ``str``, lists and tuples of them, and dicts with ``str`` keys. The
check runs before anything is written and names the offending argument and where inside it the
bad value sits.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

_SCALARS = (str, int, bool, type(None))
_FLAT = frozenset((str, int, bool, type(None), float))


def _find_problem(value: Any, path: str) -> str | None:
    """Describe the first non-JSON value inside ``value``, or return ``None``."""
    if isinstance(value, _SCALARS):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{path} is {value!r}, which JSON cannot hold"
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            problem = _find_problem(item, f"{path}[{index}]")
            if problem:
                return problem
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return (
                    f"{path} has a key {key!r} of type {type(key).__name__}; JSON keys are strings"
                )
            problem = _find_problem(item, f"{path}[{key!r}]")
            if problem:
                return problem
        return None
    return f"{path} is a {type(value).__module__}.{type(value).__qualname__}, not a JSON value"


def dumps(value: Any) -> str:
    """Compact JSON text of an already checked value."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def encode_args(args: Sequence[Any], *, owner: str) -> str:
    """The JSON array text of ``args``; a ``TypeError`` naming the argument if one is not JSON.

    ``owner`` names the call in the message, such as ``"MyWorker.perform_async"``.
    """
    try:
        text = dumps(list(args))
    except (TypeError, ValueError):
        text = None
    if text is not None and all(type(arg) in _FLAT for arg in args):
        return text  # the common case: flat arguments json.dumps already vetted
    for index, arg in enumerate(args):
        problem = _find_problem(arg, f"argument {index}")
        if problem:
            raise TypeError(f"{owner}: {problem}; nothing was enqueued") from None
    if text is None:
        raise TypeError(f"{owner}: arguments are not JSON; nothing was enqueued")
    return text


def encode_properties(properties: dict[str, Any], *, owner: str) -> str:
    """The JSON object text of ``properties``; a ``TypeError`` naming the key if not JSON."""
    try:
        return dumps(properties)
    except (TypeError, ValueError):
        problem = _find_problem(properties, "properties") or "properties are not JSON"
        raise TypeError(f"{owner}: {problem}") from None


def check_json(value: Any, *, path: str) -> str | None:
    """Describe why ``value`` is not JSON, or return ``None`` when it is."""
    return _find_problem(value, path)


def encode_kwargs(kwargs: dict[str, Any], *, owner: str) -> str:
    """The JSON object text of ``perform``'s keyword arguments; a ``TypeError`` naming the
    keyword if a value is not JSON (a psycopg connection gets a hint: pass it to ``set()``)."""
    if not kwargs:
        return "{}"
    try:
        return dumps(kwargs)
    except (TypeError, ValueError):
        pass
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
    raise TypeError(f"{owner}: keyword arguments are not JSON; nothing was enqueued")


def arguments_digest(args: Sequence[Any], kwargs: dict[str, Any]) -> str:
    """A short stable digest of ``perform``'s arguments (the key of ``unique = True`` jobs):
    equal for equal JSON values, whatever the order of dict keys."""
    import hashlib

    text = json.dumps([list(args), kwargs], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]
