"""Text from job data made safe for one log line.

Class names, job names and error messages come from rows anyone with database access can
write, and from exceptions jobs raise. :func:`printable` cuts such text to a length and writes
control characters as escapes (``\\n``, ``\\x1b``, ``\\u2028``), so an embedded newline cannot
forge a second log line and a terminal escape cannot repaint the screen.
"""

from __future__ import annotations

import re

#: Characters a log line shows as escapes: C0 and C1 controls, DEL, the Unicode line and
#: paragraph separators, and the bidirectional overrides that reorder what a reader sees.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
#: Characters of one value shown in a log line before it is cut.
LIMIT = 1000


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_str(value: object) -> str:
    """``str(value)``, or a placeholder when its ``__str__`` raises."""
    if isinstance(value, str):
        return value
    try:
        return str(value)
    except Exception:
        return f"<{type(value).__qualname__} whose str() failed>"


def printable(value: object, limit: int = LIMIT) -> str:
    """``value`` as text for a log line: cut after ``limit`` characters, controls escaped."""
    text = safe_str(value)
    if len(text) > limit:
        text = f"{text[:limit]}... ({len(text) - limit} more characters)"
    return _UNSAFE.sub(_escape, text)
