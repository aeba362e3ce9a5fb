"""Property paths: ``comments_count`` or ``user.timeline.is_private``, validated.

A path names a key of ``toro_jobs.properties`` and, for nested properties, the keys inside it.
Every segment must match :data:`SEGMENT` (letters, digits, ``_``, ``:`` and ``-``, starting with
a letter or ``_``, at most 63 characters), so a path can never carry SQL or JSON-path syntax;
it is still passed to PostgreSQL only as a bound literal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_:\-]{0,62}")
MAX_DEPTH = 8
_MISSING = object()


def parse_path(path: str | Sequence[str]) -> tuple[str, ...]:
    """The segments of ``path`` (a dotted string or a sequence); ``ValueError`` if invalid."""
    segments = tuple(path.split(".")) if isinstance(path, str) else tuple(path)
    if not segments or len(segments) > MAX_DEPTH:
        raise ValueError(f"a property path has 1 to {MAX_DEPTH} segments, got {path!r}")
    for segment in segments:
        if not isinstance(segment, str) or not SEGMENT.fullmatch(segment):
            raise ValueError(
                f"invalid property path {path!r}: segment {segment!r} must start with a letter "
                "or '_' and hold only letters, digits, '_', ':' and '-' (at most 63 characters)"
            )
    return segments


def dotted(path: Sequence[str]) -> str:
    """The path as users write it: ``user.timeline.is_private``."""
    return ".".join(path)


def lookup(value: Any, rest: Sequence[str]) -> Any:
    """Follow ``rest`` into nested mappings like ``#>>`` does; ``MISSING`` where it stops."""
    for segment in rest:
        if not isinstance(value, Mapping) or segment not in value:
            return _MISSING
        value = value[segment]
    return value


MISSING: Any = _MISSING
