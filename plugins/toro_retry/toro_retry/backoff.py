"""How long a failed job waits before its next attempt: the fixed and exponential formulas.

Pure functions of the attempt number (1 for the first run) and the worker's options, so the
formulas are tested without a database and documented in one place (see the README).
"""

from __future__ import annotations

import random
from collections.abc import Callable

#: The exponent stops growing here; ``2 ** 62`` times any interval is past every cap.
_MAX_EXPONENT = 62


def fixed_delay(interval: float, attempt: int) -> float:
    """The seed's rule: every retry waits ``interval`` seconds, whatever the attempt."""
    return interval


def exponential_base(interval: float, attempt: int, cap: float) -> float:
    """``min(cap, interval * 2 ** (attempt - 1))``: the delay before jitter.

    The attempt that failed is ``attempt``; the first failure waits ``interval``, the second
    twice that, and so on, never more than ``cap``.
    """
    exponent = min(max(attempt, 1) - 1, _MAX_EXPONENT)
    return min(cap, interval * 2.0**exponent)


def exponential_delay(
    interval: float,
    attempt: int,
    cap: float,
    *,
    uniform: Callable[[float, float], float] = random.uniform,
) -> float:
    """Exponential backoff with equal jitter: a delay drawn from ``[base / 2, base]``.

    ``base`` is :func:`exponential_base`. Half of the delay is kept so a retry never comes
    much sooner than the formula says; the random other half spreads out jobs that failed
    together (a database or an API that went away) so they do not all come back at once.
    """
    base = exponential_base(interval, attempt, cap)
    return base / 2 + uniform(0.0, base / 2)
