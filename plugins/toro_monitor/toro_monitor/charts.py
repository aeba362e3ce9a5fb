"""Geometry of the server-rendered SVG histograms (no chart library, no script).

The templates draw what these functions compute: one stacked bar per queue, one segment per
status in registration order, coloured with the status's colour.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence

from toro_monitor.options import ALL, OTHER
from toro_monitor.store import Histogram

#: Colour of a status that no installed plugin registers.
UNKNOWN_COLOUR = "#adb5bd"


@dataclasses.dataclass(frozen=True)
class Segment:
    status: str
    jobs: int
    colour: str
    #: Offset and length along the bar, in SVG units.
    start: float
    length: float


@dataclasses.dataclass(frozen=True)
class Bar:
    queue: str
    total: int
    segments: list[Segment]


@dataclasses.dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    #: The largest bar's total (the scale), at least 1.
    scale: int


def status_order(histogram: Histogram, registered: Sequence[str]) -> list[str]:
    """Registered statuses first, in registration order, then any others found in the table."""
    found = sorted({s for per_queue in histogram.counts.values() for s in per_queue})
    return [*registered, *(s for s in found if s not in registered)]


def bars(
    histogram: Histogram,
    queues: Sequence[str],
    statuses: Sequence[str],
    colours: Mapping[str, str],
    length: float,
) -> Chart:
    """Stacked bars for ``queues``; the longest is ``length`` units long."""
    totals = {queue: sum(histogram.counts.get(queue, {}).values()) for queue in queues}
    scale = max([1, *totals.values()])
    result = []
    for queue in queues:
        per_status = histogram.counts.get(queue, {})
        start = 0.0
        segments = []
        for status in statuses:
            jobs = per_status.get(status, 0)
            if not jobs:
                continue
            size = jobs / scale * length
            colour = colours.get(status, UNKNOWN_COLOUR)
            segments.append(Segment(status, jobs, colour, round(start, 2), round(size, 2)))
            start += size
        result.append(Bar(queue, totals[queue], segments))
    return Chart(bars=result, scale=scale)


def split(queues: Sequence[str], charts: Mapping[str, str]) -> list[tuple[str, list[str]]]:
    """``[(title, queues)]`` for each entry of the ``charts`` option, in its order.

    A regex key takes the queues it matches (``re.search``); ``ALL`` takes every queue;
    ``OTHER`` takes the queues that no regex key matches.
    """
    patterns = {key: re.compile(key) for key in charts if key not in (ALL, OTHER)}
    matched = {q for q in queues if any(p.search(q) for p in patterns.values())}
    groups = []
    for key, title in charts.items():
        if key == ALL:
            chosen = list(queues)
        elif key == OTHER:
            chosen = [q for q in queues if q not in matched]
        else:
            chosen = [q for q in queues if patterns[key].search(q)]
        groups.append((title, chosen))
    return groups
