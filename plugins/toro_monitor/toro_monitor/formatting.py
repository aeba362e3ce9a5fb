"""Jinja filters and small helpers that turn job values into readable text.

Filters return plain strings; Jinja's autoescaping escapes them like any other value.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from typing import Any


def duration(value: datetime.timedelta | float | None) -> str:
    """``1.234 s``, ``2 min 3 s``, ``4 h 5 min``; empty for ``None``."""
    if value is None:
        return ""
    seconds = value.total_seconds() if isinstance(value, datetime.timedelta) else float(value)
    if seconds < 0:
        seconds = 0.0
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} d {hours % 24} h"


def timestamp(value: datetime.datetime | str | None) -> str:
    """An ISO time to the second, in UTC: ``2026-12-01 10:15:03Z``."""
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if value.tzinfo is not None:
        value = value.astimezone(datetime.UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S") + ("Z" if value.tzinfo else "")


def pretty_json(value: Any) -> str:
    """Indented JSON of any value (non-JSON values as their ``str``)."""
    return json.dumps(value, indent=2, sort_keys=False, default=str, ensure_ascii=False)


def is_mapping(value: Any) -> bool:
    return isinstance(value, Mapping)


def is_list(value: Any) -> bool:
    return isinstance(value, list | tuple)


FILTERS = {"duration": duration, "timestamp": timestamp, "pretty_json": pretty_json}
TESTS = {"mapping_value": is_mapping, "list_value": is_list}
