"""When a periodic schedule ticks: cron expressions and fixed intervals.

A trigger answers one question, ``next_after(moment)``: the first tick strictly after
``moment``, as an aware UTC datetime. Every process computes the same ticks from the same
definition (nothing depends on when a process started), which is what lets the database
constraint on ``(schedule, tick)`` deduplicate them.

* :class:`CronTrigger`: 5 fields (minute hour day-of-month month day-of-week) or 6 fields with
  **seconds first** (``"*/10 * * * * *"`` is every ten seconds), read in an IANA time zone.
  ``@hourly``-style aliases are accepted too. Daylight-saving gaps and repeats are handled by
  croniter.
* :class:`IntervalTrigger`: every N seconds (at least one), aligned to the Unix epoch, so an
  interval of one hour ticks on the hour (UTC) in every process.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from croniter import croniter

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _cron_iterator(expression: str, start: datetime, seconds_first: bool) -> croniter:
    """croniter over ``expression`` from ``start`` (imported on first use: a process whose
    schedules are all intervals, or that has none, never loads it)."""
    from croniter import croniter

    return croniter(expression, start, second_at_beginning=seconds_first)


class Trigger(Protocol):
    """What a schedule needs from its timing rule."""

    @property
    def kind(self) -> str:
        """``"cron"`` or ``"interval"`` (stored in ``toro_schedules.kind``)."""
        ...

    @property
    def timezone(self) -> str:
        """The IANA zone the definition is read in (``"UTC"`` for intervals)."""
        ...

    def next_after(self, moment: datetime) -> datetime:
        """The first tick strictly after ``moment`` (aware), in UTC."""
        ...

    def expression(self) -> str:
        """The definition as stored in ``toro_schedules.expression``."""
        ...

    def describe(self) -> str:
        """A short human description, for logs and the CLI."""
        ...


@dataclasses.dataclass(frozen=True, slots=True)
class CronTrigger:
    """A cron expression (5 fields, or 6 with seconds first) read in ``timezone``."""

    cron: str
    timezone: str = "UTC"
    kind: str = dataclasses.field(default="cron", init=False)

    def __post_init__(self) -> None:
        cron = " ".join(self.cron.split())
        object.__setattr__(self, "cron", cron)
        fields = cron.split(" ")
        if not cron.startswith("@") and len(fields) not in (5, 6):
            raise ValueError(
                f"cron expression {cron!r} has {len(fields)} fields; use 5 (minute hour "
                "day-of-month month day-of-week) or 6 with seconds first"
            )
        zone(self.timezone)
        try:
            _cron_iterator(cron, datetime.now(UTC), self._seconds_first)
        except (ValueError, KeyError) as exc:
            raise ValueError(f"cron expression {cron!r} is not valid: {exc}") from None

    @property
    def _seconds_first(self) -> bool:
        return len(self.cron.split(" ")) == 6

    def next_after(self, moment: datetime) -> datetime:
        local = moment.astimezone(zone(self.timezone))
        it = _cron_iterator(self.cron, local, self._seconds_first)
        found: datetime = it.get_next(datetime)
        return found.astimezone(UTC)

    def ticks(self, after: datetime, until: datetime) -> Iterator[datetime]:
        """Ticks in ``(after, until]`` in order, from one croniter iterator (faster)."""
        local = after.astimezone(zone(self.timezone))
        it = _cron_iterator(self.cron, local, self._seconds_first)
        while True:
            found: datetime = it.get_next(datetime)
            tick = found.astimezone(UTC)
            if tick > until:
                return
            yield tick

    def expression(self) -> str:
        return self.cron

    def describe(self) -> str:
        return f"cron {self.cron!r} ({self.timezone})"


@dataclasses.dataclass(frozen=True, slots=True)
class IntervalTrigger:
    """Every ``seconds`` seconds, on multiples of the interval since the Unix epoch."""

    seconds: float
    kind: str = dataclasses.field(default="interval", init=False)
    timezone: str = dataclasses.field(default="UTC", init=False)

    def __post_init__(self) -> None:
        if not self.seconds >= 1:
            raise ValueError(f"an interval schedule must be at least 1 second, not {self.seconds}")
        if _micros(timedelta(seconds=self.seconds)) % 1000:
            raise ValueError(f"interval {self.seconds}s is finer than a millisecond")

    @property
    def _period(self) -> int:
        return _micros(timedelta(seconds=self.seconds))

    def next_after(self, moment: datetime) -> datetime:
        period = self._period
        steps = _micros(moment - _EPOCH) // period + 1
        return _EPOCH + timedelta(microseconds=steps * period)

    def ticks(self, after: datetime, until: datetime) -> Iterator[datetime]:
        tick = self.next_after(after)
        step = timedelta(microseconds=self._period)
        while tick <= until:
            yield tick
            tick += step

    def expression(self) -> str:
        return f"{self.seconds:g}"

    def describe(self) -> str:
        return f"every {_human(self.seconds)}"


def ticks_between(trigger: Trigger, after: datetime, until: datetime) -> Iterator[datetime]:
    """Ticks of ``trigger`` in ``(after, until]``, in order."""
    fast = getattr(trigger, "ticks", None)
    if fast is not None:
        yield from fast(after, until)
        return
    tick = trigger.next_after(after)
    while tick <= until:
        yield tick
        tick = trigger.next_after(tick)


def next_ticks(trigger: Trigger, after: datetime, count: int) -> list[datetime]:
    """The first ``count`` ticks of ``trigger`` strictly after ``after``, in order."""
    ticks: list[datetime] = []
    moment = after
    for _ in range(max(count, 0)):
        moment = trigger.next_after(moment)
        ticks.append(moment)
    return ticks


def trigger_from(kind: str, expression: str, timezone: str = "UTC") -> Trigger:
    """Rebuild a trigger from its stored form (``toro_schedules`` row)."""
    if kind == "cron":
        return CronTrigger(expression, timezone)
    if kind == "interval":
        return IntervalTrigger(float(expression))
    raise ValueError(f"unknown schedule kind {kind!r}")


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ``ValueError`` naming it when it does not exist."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name such as 'Europe/Paris')"
        ) from None


def _micros(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _human(seconds: float) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"
