"""Geometry of the Overview's server-rendered SVG bar charts (no chart library, no script).

A chart is one bar per minute (or hour): completed attempts at the bottom, failed ones stacked
on top, the tallest bar reaching the chart's height; the template draws what this computes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime

#: Colours of the kernel's statuses (toro_core's ``complete`` and ``failed``).
COMPLETE = "#198754"
FAILED = "#dc3545"


@dataclasses.dataclass(frozen=True, slots=True)
class Point:
    """Attempts finished in one period."""

    start: datetime
    complete: int
    failed: int
    #: Every outcome, retries and plugin statuses included.
    total: int


@dataclasses.dataclass(frozen=True, slots=True)
class Bar:
    point: Point
    x: float
    #: Heights (SVG units) of the completed and failed segments.
    complete: float
    failed: float
    label: str


@dataclasses.dataclass(frozen=True, slots=True)
class Chart:
    bars: list[Bar]
    #: The value the chart's height stands for (at least 1).
    scale: int
    height: float
    bar_width: float
    width: float
    #: Bars whose time is written under the axis.
    ticks: list[Bar]


def nice(value: int) -> int:
    """The smallest of 1, 2, 5 times a power of ten that is at least ``value``."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if factor * step >= value:
                return factor * step
        step *= 10


def bar_chart(
    points: Sequence[Point],
    *,
    height: float = 160,
    bar_width: float = 10,
    gap: float = 2,
    every: int = 10,
    fmt: str = "%H:%M",
) -> Chart:
    """Bars for ``points`` (oldest first); one time label (UTC) every ``every`` bars."""
    scale = nice(max([1, *(p.complete + p.failed for p in points)]))
    bars = []
    for index, point in enumerate(points):
        complete = round(point.complete / scale * height, 2)
        failed = round(point.failed / scale * height, 2)
        x = round(index * (bar_width + gap), 2)
        bars.append(Bar(point, x, complete, failed, point.start.astimezone(UTC).strftime(fmt)))
    ticks = [bar for i, bar in enumerate(bars) if i % every == 0]
    width = round(len(bars) * (bar_width + gap), 2)
    return Chart(bars, scale, height, bar_width, width, ticks)
