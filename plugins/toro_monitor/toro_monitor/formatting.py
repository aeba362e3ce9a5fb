"""Jinja filters that turn job values into readable, bounded text.

Filters returning ``str`` are escaped by Jinja's autoescaping like any other value; those
returning :class:`~markupsafe.Markup` (the folds of long values) escape every text they
hold themselves.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from toro_monitor import jsonsafe
from toro_monitor.fold import clip, expandable, text_block
from toro_monitor.limits import DETAIL_TEXT
from toro_monitor.tree import render_tree


def duration(value: datetime.timedelta | float | str | None) -> str:
    """``1.234 s``, ``2 min 3 s``, ``4 h 5 min``; empty for ``None``; text (an interval
    Python cannot hold, as PostgreSQL wrote it) as it is."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
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
    """An ISO time to the second, in UTC: ``2026-12-01 10:15:03Z``; text (a time Python
    cannot hold, such as ``infinity``) as it is."""
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


def json_block(value: Any, css: str = "args") -> Markup:
    """Indented JSON of ``value`` of any depth, as :func:`text_block`."""
    text, cut = jsonsafe.pretty(value, DETAIL_TEXT)
    return text_block(text, css, cut)


def is_mapping(value: Any) -> bool:
    return isinstance(value, Mapping)


FILTERS = {
    "duration": duration,
    "timestamp": timestamp,
    "clip": clip,
    "expandable": expandable,
    "text_block": text_block,
    "json_block": json_block,
    "tree": render_tree,
}
TESTS = {"mapping_value": is_mapping}
