"""Histogram buckets kept as plain numbers: what one observation costs is a bisect and two adds.

prometheus_client's own ``Histogram`` takes a lock per observation; a worker process observes
from one event loop, so :class:`Buckets` keeps plain counts and a collector turns them into
Prometheus samples when scraped (from the metrics server's thread: reading a list of ints
while the loop adds to it is safe in CPython, and a scrape may see the sum one observation
behind its counts, never a count that went down).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence

#: Upper bounds (seconds) of the attempt duration histogram.
DURATION_BOUNDS: tuple[float, ...] = (
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
    900.0, 3600.0,
)  # fmt: skip
#: Upper bounds (seconds) of the wait histogram (due time to start).
WAIT_BOUNDS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
    3600.0, 21600.0, 86400.0,
)  # fmt: skip


class Buckets:
    """Counts of observations per bucket (the last one is ``+Inf``) and their sum."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        """Count ``value`` in the first bucket whose bound is at least ``value``."""
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def cumulative(self) -> list[tuple[str, float]]:
        """``[(le, observations <= le)]`` as Prometheus wants them, ``+Inf`` last."""
        counts = list(self.counts)  # one snapshot, whatever the loop adds meanwhile
        running = 0
        result = []
        for bound, count in zip((*self.bounds, math.inf), counts, strict=True):
            running += count
            result.append((label(bound), float(running)))
        return result


def label(bound: float) -> str:
    """The ``le`` label of a bound: ``"0.005"``, ``"1.0"``, ``"+Inf"``."""
    return "+Inf" if bound == math.inf else repr(float(bound))


def quantile(bounds: Sequence[float], counts: Sequence[int], q: float) -> float | None:
    """The ``q`` quantile (0..1) of bucketed observations, interpolated linearly inside its
    bucket as Prometheus's ``histogram_quantile`` does; ``None`` without observations. A
    quantile that falls in the ``+Inf`` bucket is reported as the highest bound."""
    total = sum(counts)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for index, count in enumerate(counts):
        if count and seen + count >= rank:
            if index >= len(bounds):
                return float(bounds[-1])
            low = 0.0 if index == 0 else float(bounds[index - 1])
            high = float(bounds[index])
            return low + (high - low) * ((rank - seen) / count)
        seen += count
    return float(bounds[-1])
