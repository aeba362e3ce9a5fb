"""Periodic schedules declared on worker classes, and finding them among the loaded workers.

A worker becomes periodic by setting ``schedule``::

    class Report(Worker):
        schedule = "0 7 * * 1-5"            # cron: 5 fields, or 6 with seconds first
        schedule_timezone = "Europe/Paris"  # cron only; default UTC
        schedule_catch_up = 600             # seconds (or timedelta); default 300
        schedule_args = ("daily",)          # perform's arguments; default none

    class Sync(Worker):
        schedule = timedelta(seconds=30)    # or a number of seconds

The schedule's name is the worker's class name (``module.Qualified.Name``): it keys the ticks
in the database, so renaming the class starts a new schedule.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from toro_core.plugin import interval_seconds, job_params, worker_classes
from toro_scheduler.triggers import CronTrigger, IntervalTrigger, Trigger

if TYPE_CHECKING:
    from toro_core import Toro, Worker

log = logging.getLogger("toro.scheduler")

#: Default catch-up window, in seconds.
DEFAULT_CATCH_UP = 300.0

#: The worker options this plugin declares (``worker_options`` hook).
OPTIONS: dict[str, str] = {
    "schedule": (
        "run the worker periodically: a cron expression (5 fields, or 6 with seconds first) "
        "or an interval (timedelta or seconds, at least 1)"
    ),
    "schedule_timezone": "IANA time zone a cron schedule is read in (default 'UTC')",
    "schedule_catch_up": (
        "seconds (or timedelta) back that ticks missed while no worker ran are still "
        f"enqueued on start; older ones are skipped and logged (default {DEFAULT_CATCH_UP:g})"
    ),
    "schedule_args": "tuple of perform's arguments for each periodic run (default none)",
}


class ScheduleError(ValueError):
    """A worker's schedule options are not valid."""


@dataclasses.dataclass(frozen=True, slots=True)
class Schedule:
    """One periodic schedule: which worker, when it ticks, and how far back it catches up."""

    #: The worker's class name; the key of its ticks.
    name: str
    worker: type[Worker]
    trigger: Trigger
    #: Seconds back that missed ticks are still enqueued.
    catch_up: float
    #: ``perform``'s arguments for each run.
    args: tuple[Any, ...]

    @property
    def queue(self) -> str:
        return self.worker.queue

    def describe(self) -> str:
        return f"{self.name}: {self.trigger.describe()}, catch-up {self.catch_up:g}s"


def is_periodic(cls: type[Worker]) -> bool:
    """Whether ``cls`` declares a schedule."""
    return getattr(cls, "schedule", None) is not None


def schedule_of(cls: type[Worker]) -> Schedule:
    """The schedule ``cls`` declares; :class:`ScheduleError` naming the class if it is wrong."""
    owner = cls.class_name()
    try:
        return Schedule(
            name=cls.class_name(),
            worker=cls,
            trigger=_trigger(cls),
            catch_up=_catch_up(cls),
            args=_args(cls),
        )
    except (TypeError, ValueError) as exc:
        raise ScheduleError(f"{owner}: {exc}") from None


def _trigger(cls: type[Worker]) -> Trigger:
    value = cls.schedule  # type: ignore[attr-defined]
    if isinstance(value, str):
        return CronTrigger(value, getattr(cls, "schedule_timezone", None) or "UTC")
    if isinstance(value, (timedelta, int, float)) and not isinstance(value, bool):
        return IntervalTrigger(interval_seconds(value, what="schedule"))
    raise TypeError(
        f"schedule must be a cron expression (str), a timedelta or seconds, not "
        f"{type(value).__name__}"
    )


def _catch_up(cls: type[Worker]) -> float:
    value = getattr(cls, "schedule_catch_up", None)
    if value is None:
        return DEFAULT_CATCH_UP
    return interval_seconds(value, what="schedule_catch_up")


def _args(cls: type[Worker]) -> tuple[Any, ...]:
    value = getattr(cls, "schedule_args", None)
    if value is None:
        return ()
    if not isinstance(value, (tuple, list)):
        raise TypeError(
            f"schedule_args must be a tuple of perform's arguments, not {type(value).__name__}"
        )
    return tuple(value)


def loaded_workers() -> list[type[Worker]]:
    """The worker classes defined in this process so far, in name order."""
    return worker_classes()


def find_schedules(
    app: Toro, workers: Iterable[type[Worker]] | None = None
) -> tuple[list[Schedule], list[str]]:
    """The valid schedules among ``workers`` (default: every loaded worker), and the errors.

    A worker whose options are wrong (a misspelt option, a bad cron expression, arguments that
    are not JSON) is left out and reported by a message naming it, so one bad schedule does not
    stop the others.
    """
    found: list[Schedule] = []
    errors: list[str] = []
    for cls in loaded_workers() if workers is None else workers:
        if not is_periodic(cls):
            continue
        try:
            app.check_worker(cls)
            schedule = schedule_of(cls)
            job_params(app, cls, schedule.args)  # arguments must be JSON before any tick
        except Exception as exc:
            message = str(exc) if isinstance(exc, ScheduleError) else f"{cls.class_name()}: {exc}"
            errors.append(message)
            continue
        found.append(schedule)
    return found, errors
