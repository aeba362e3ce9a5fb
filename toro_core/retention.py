"""How long finished jobs are kept: durations, and the retention of each final status.

Values and rules only, no I/O (the pruner that acts on them is :mod:`toro_core.runtime.pruner`):

* a duration is written ``90s``, ``15m``, ``12h`` or ``7d`` (a whole number and a unit), or
  ``forever``; :func:`parse_duration` turns it into seconds (``None`` for forever) and refuses
  anything else, zero and negative numbers included, with a message that says what it accepts;
* :class:`Retention` holds the retention of ``complete``, ``failed`` and ``cancelled`` jobs;
  :meth:`Retention.horizons` gives the seconds after which a job of each final status may be
  deleted. A final status a plugin adds (the ``statuses`` hook, ``final=True``) is kept as long
  as the longest of the three, so pruning never removes a plugin's jobs sooner than the
  kernel's; statuses that are not final (queued, scheduled, running, blocked) never get one.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable

from toro_core.errors import ConfigurationError
from toro_core.statuses import Status

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
#: Seconds per unit of a duration.
UNITS = {"s": 1.0, "m": MINUTE, "h": HOUR, "d": DAY}
#: The longest retention written as a number (about a century); beyond it, say ``forever``.
MAX_SECONDS = 36_500 * DAY
FOREVER = "forever"
#: Final statuses of the kernel, each with its own retention.
KERNEL_FINAL = ("complete", "failed", "cancelled")
_DURATION = re.compile(r"^(?P<number>[0-9]+)(?P<unit>[smhd])$")
_EXAMPLES = "such as 90s, 15m, 12h or 7d, or forever"


def parse_duration(text: str) -> float | None:
    """Seconds of a retention written ``90s``/``15m``/``12h``/``7d``; ``None`` for ``forever``.

    Raises ``ValueError`` with a message that quotes ``text`` and says what is accepted: a
    whole number above 0 with a unit, at most 36500d, or ``forever``.
    """
    value = text.strip().lower() if isinstance(text, str) else text
    if value == FOREVER:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{text!r} is not a duration {_EXAMPLES}")
    match = _DURATION.match(value)
    if match is None:
        if re.match(r"^-[0-9]", value):
            raise ValueError(f"{text!r} is negative: a retention is a duration {_EXAMPLES}")
        if re.match(r"^[0-9]+(\.[0-9]*)?$", value):
            raise ValueError(f"{text!r} has no unit: write a duration {_EXAMPLES}")
        raise ValueError(f"{text!r} is not a duration {_EXAMPLES}")
    seconds = int(match.group("number")) * UNITS[match.group("unit")]
    if seconds == 0:
        raise ValueError(
            f"{text!r} would delete jobs as they finish: the shortest retention is 1s "
            f"(or keep them {FOREVER})"
        )
    if seconds > MAX_SECONDS:
        raise ValueError(f"{text!r} is longer than 36500d: write {FOREVER} to keep jobs forever")
    return seconds


def format_duration(seconds: float | None) -> str:
    """``seconds`` the way :func:`parse_duration` reads it (the largest unit that divides it)."""
    if seconds is None:
        return FOREVER
    for unit in ("d", "h", "m"):
        if seconds >= UNITS[unit] and seconds % UNITS[unit] == 0:
            return f"{int(seconds // UNITS[unit])}{unit}"
    return f"{seconds:g}s"


def check_seconds(name: str, seconds: float | None) -> None:
    """Refuse a retention that is not ``None`` or a number of seconds in (0, MAX_SECONDS]."""
    if seconds is None:
        return
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise ConfigurationError(
            f"{name} must be a number of seconds or None (forever), not {type(seconds).__name__}"
        )
    if math.isnan(seconds) or not 0 < seconds <= MAX_SECONDS:
        raise ConfigurationError(
            f"{name} must be more than 0 and at most 36500 days (got {seconds!r}); "
            "None keeps jobs forever"
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Retention:
    """Seconds a finished job is kept after its ``finished_at``, per final status
    (``None``: forever). The defaults are 14 days for complete jobs and 30 days for failed and
    cancelled ones: long enough to look into a failure after a holiday."""

    complete: float | None = 14 * DAY
    failed: float | None = 30 * DAY
    cancelled: float | None = 30 * DAY

    def __post_init__(self) -> None:
        for name in KERNEL_FINAL:
            check_seconds(f"retention of {name} jobs", getattr(self, name))

    @classmethod
    def parse(
        cls,
        complete: str | None = None,
        failed: str | None = None,
        cancelled: str | None = None,
    ) -> Retention:
        """A retention from durations as :func:`parse_duration` reads them (``None``: the
        default of that status); ``ConfigurationError`` naming the status for a bad one."""
        values: dict[str, float | None] = {}
        for name, text in (("complete", complete), ("failed", failed), ("cancelled", cancelled)):
            if text is None:
                continue
            try:
                values[name] = parse_duration(text)
            except ValueError as exc:
                raise ConfigurationError(f"retention of {name} jobs: {exc}") from None
        return cls(**values)

    @property
    def longest(self) -> float | None:
        """The longest of the three (``None`` when any is forever): what plugins' final
        statuses get."""
        values = [getattr(self, name) for name in KERNEL_FINAL]
        return None if any(v is None for v in values) else max(v for v in values if v)

    def keep(self, status: Status) -> float | None:
        """Seconds a job in ``status`` is kept after it finished; ``None`` for forever (and
        for every status that is not final: those are never pruned)."""
        if not status.final:
            return None
        if status.name in KERNEL_FINAL:
            value: float | None = getattr(self, status.name)
            return value
        return self.longest

    def horizons(self, statuses: Iterable[Status]) -> dict[str, float]:
        """``{status: seconds}`` for every final status that is not kept forever, in the
        order given: what a prune deletes (a job of that status finished longer ago)."""
        horizons: dict[str, float] = {}
        for status in statuses:
            seconds = self.keep(status)
            if seconds is not None:
                horizons[status.name] = seconds
        return horizons

    def describe(self) -> str:
        """``complete 14d, failed 30d, cancelled 30d`` (for log lines and help)."""
        return ", ".join(f"{n} {format_duration(getattr(self, n))}" for n in KERNEL_FINAL)
