"""The retry options a worker class sets, checked and turned into a :class:`RetryPolicy`.

The kernel checks option *names* (each one is declared through ``worker_options``); this
module checks their *values* and how they combine, with errors that name the worker class and
the option. Retrying is on only when the class sets ``retry_interval``.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal

from toro_core import ToroError, Worker

#: Attempts a job gets (first run included) when retrying is on and ``max_attempts`` is unset.
DEFAULT_MAX_ATTEMPTS = 5
#: Longest exponential delay, in seconds, when ``retry_max_interval`` is unset: one day.
DEFAULT_MAX_INTERVAL = 86_400.0

Backoff = Literal["fixed", "exponential"]
BACKOFFS: tuple[Backoff, ...] = ("fixed", "exponential")

#: Declared through the ``worker_options`` hook: ``{name: description}``.
OPTIONS: Mapping[str, str] = {
    "retry_interval": (
        "toro-retry: seconds or timedelta to wait before retrying a failed job; setting it "
        "turns retrying on (default: failed jobs are not retried)"
    ),
    "retry_backoff": (
        "toro-retry: 'fixed' (every retry waits retry_interval, the default) or 'exponential' "
        "(retry_interval doubled per attempt, capped, with jitter)"
    ),
    "retry_max_interval": (
        "toro-retry: longest exponential delay, seconds or timedelta (default one day)"
    ),
    "max_attempts": (
        f"toro-retry: attempts a job gets, the first run included (default "
        f"{DEFAULT_MAX_ATTEMPTS} when retrying is on; None for no limit)"
    ),
    "retry_on": "toro-retry: exception classes to retry; any other error fails the job at once",
    "no_retry_on": "toro-retry: exception classes that fail the job at once, never retried",
}


class RetryOptionError(ToroError, ValueError):
    """A worker class sets a toro-retry option to a value it cannot use."""


@dataclasses.dataclass(frozen=True, slots=True)
class RetryPolicy:
    """What a worker class asks of toro-retry, checked. Delays are in seconds."""

    interval: float
    backoff: Backoff = "fixed"
    max_interval: float = DEFAULT_MAX_INTERVAL
    #: ``None`` means no limit.
    max_attempts: int | None = DEFAULT_MAX_ATTEMPTS
    #: ``None`` means every exception is retried.
    retry_on: tuple[type[BaseException], ...] | None = None
    no_retry_on: tuple[type[BaseException], ...] = ()


def policy_for(worker_class: type[Worker]) -> RetryPolicy | None:
    """The class's policy, or ``None`` when it does not retry; raises :class:`RetryOptionError`.

    Options that only make sense while retrying (``max_attempts``, ``retry_on`` ...) on a class
    without ``retry_interval`` are an error rather than silently ignored.
    """
    name = worker_class.__qualname__
    interval_value = getattr(worker_class, "retry_interval", None)
    if interval_value is None:
        stray = [option for option in OPTIONS if _sets(worker_class, option)]
        if callable(getattr(worker_class, "retry_delay", None)):
            stray.append("retry_delay()")
        if stray:
            raise RetryOptionError(
                f"{name} sets {', '.join(stray)} but not retry_interval: retrying is off "
                "until retry_interval is set (it is also the base delay of the backoff)"
            )
        return None
    interval = seconds(name, "retry_interval", interval_value)
    if interval <= 0:
        raise RetryOptionError(
            f"{name}.retry_interval must be more than 0 s, got {interval_value!r}"
        )
    backoff = _backoff(worker_class)
    max_interval = DEFAULT_MAX_INTERVAL
    max_interval_value = getattr(worker_class, "retry_max_interval", None)
    if max_interval_value is not None:
        if backoff != "exponential":
            raise RetryOptionError(
                f"{name}.retry_max_interval caps the exponential backoff only; "
                "set retry_backoff = 'exponential' or remove it"
            )
        max_interval = seconds(name, "retry_max_interval", max_interval_value)
        if max_interval < interval:
            raise RetryOptionError(
                f"{name}.retry_max_interval ({max_interval:g} s) is less than its "
                f"retry_interval ({interval:g} s)"
            )
    return RetryPolicy(
        interval=interval,
        backoff=backoff,
        max_interval=max_interval,
        max_attempts=_max_attempts(worker_class),
        retry_on=_exception_classes(worker_class, "retry_on", None),
        no_retry_on=_exception_classes(worker_class, "no_retry_on", ()) or (),
    )


def _backoff(worker_class: type[Worker]) -> Backoff:
    backoff = getattr(worker_class, "retry_backoff", None)
    if backoff is None or backoff == "fixed":
        return "fixed"
    if backoff != "exponential":
        raise RetryOptionError(
            f"{worker_class.__qualname__}.retry_backoff must be one of "
            f"{', '.join(map(repr, BACKOFFS))}, got {backoff!r}"
        )
    return "exponential"


def seconds(worker: str, option: str, value: Any) -> float:
    """``value`` (a number of seconds or a ``timedelta``) in seconds; an error names the option."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise RetryOptionError(
        f"{worker}.{option} must be a finite number of seconds or a datetime.timedelta, "
        f"got {type(value).__name__} {value!r}"
    )


def _sets(worker_class: type[Worker], option: str) -> bool:
    return getattr(worker_class, option, None) is not None


def _max_attempts(worker_class: type[Worker]) -> int | None:
    if not hasattr(worker_class, "max_attempts"):
        return DEFAULT_MAX_ATTEMPTS
    value = worker_class.max_attempts
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise RetryOptionError(
            f"{worker_class.__qualname__}.max_attempts must be a whole number of at least 1 "
            f"(or None for no limit), got {value!r}"
        )
    return value


def _exception_classes(
    worker_class: type[Worker], option: str, default: tuple[type[BaseException], ...] | None
) -> tuple[type[BaseException], ...] | None:
    value = getattr(worker_class, option, None)
    if value is None:
        return default
    items = (value,) if inspect.isclass(value) else value
    if not isinstance(items, (tuple, list, set, frozenset)) or not all(
        inspect.isclass(item) and issubclass(item, BaseException) for item in items
    ):
        raise RetryOptionError(
            f"{worker_class.__qualname__}.{option} must be an exception class or a tuple of "
            f"exception classes, got {value!r}"
        )
    if not items and option == "retry_on":
        raise RetryOptionError(
            f"{worker_class.__qualname__}.retry_on is empty, so no error would be retried; "
            "leave it unset to retry every error"
        )
    return tuple(items)
