"""The ``around_job`` middleware: on a failed attempt, record it and maybe reschedule the job.

A retried job gets ``Outcome("scheduled", scheduled_at=now + delay)``; the kernel's
promoter queues it again when that time comes. The exception is re-raised either way, so the
kernel still stores the last error in ``error:class``, ``error:message`` and ``error:backtrace``.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from types import TracebackType

from toro_core import Execution, JobCancelled, Outcome, Snooze, Worker
from toro_core.plugin import printable, safe_str
from toro_retry.decide import backoff_delay, stop_reason
from toro_retry.history import ERRORS_KEY, appended, entry
from toro_retry.options import RetryOptionError, RetryPolicy, policy_for, seconds

log = logging.getLogger("toro.retry")

#: Status a retried job waits in: the kernel's, whose promoter queues it when due.
WAITING_STATUS = "scheduled"
#: Why the last failure was not retried (set on the job's final failure, cleared on a retry).
GAVE_UP_KEY = "retry:gave_up"
#: Set when the worker's ``retry_delay`` failed and the configured backoff was used instead.
DELAY_ERROR_KEY = "retry:delay_error"


_policies: dict[type[Worker], RetryPolicy | None] = {}


def cached_policy(worker_class: type[Worker]) -> RetryPolicy | None:
    """:func:`~toro_retry.options.policy_for`, remembered per class (errors are not cached)."""
    try:
        return _policies[worker_class]
    except KeyError:
        policy = _policies[worker_class] = policy_for(worker_class)
        return policy


def middleware_for(
    worker_class: type[Worker],
) -> Callable[[Execution], AbstractAsyncContextManager[None]] | None:
    """The middleware for jobs of ``worker_class`` (decided once per class in a process):
    ``None`` when the class does not retry, so its jobs pay nothing; a refusal of every
    attempt when its retry options are unusable."""
    try:
        policy = cached_policy(worker_class)
    except RetryOptionError as error:
        refusal = error  # the except clause unbinds its own name
        return lambda execution: _refuse(refusal)
    if policy is None:
        return None
    return lambda execution: _Retrying(execution, policy)


def middleware(execution: Execution) -> AbstractAsyncContextManager[None] | None:
    """The manager for one attempt: ``None`` when the worker does not retry."""
    if execution.worker is None:
        return None
    make = middleware_for(type(execution.worker))
    return None if make is None else make(execution)


@asynccontextmanager
async def _refuse(error: RetryOptionError) -> AsyncIterator[None]:
    """Fail the attempt before ``perform`` runs: the worker's retry options are unusable."""
    raise error
    yield  # pragma: no cover - makes this a generator


class _Retrying:
    """The manager of one attempt of a class that retries: on a failure, record it and maybe
    reschedule (a plain class: entered once per attempt, cheaper than a generator's)."""

    __slots__ = ("execution", "policy")

    def __init__(self, execution: Execution, policy: RetryPolicy) -> None:
        self.execution = execution
        self.policy = policy

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        if error is None:
            if GAVE_UP_KEY in self.execution.job.properties:
                self.execution.properties[GAVE_UP_KEY] = None
        elif isinstance(error, Exception) and not isinstance(error, (Snooze, JobCancelled)):
            await record_failure(self.execution, self.policy, error)
        return False  # the exception goes on either way: the kernel records the last error


async def record_failure(execution: Execution, policy: RetryPolicy, error: Exception) -> None:
    """Append ``error`` to the history and, unless this was the last attempt, reschedule."""
    job = execution.job
    now = datetime.now(UTC)
    execution.properties[ERRORS_KEY] = appended(
        job.properties.get(ERRORS_KEY), entry(error, job.attempt, now)
    )
    if execution.outcome is not None:  # an inner middleware already chose what happens next
        return
    reason = stop_reason(policy, job.spent_attempts, error)
    if reason is not None:
        execution.properties[GAVE_UP_KEY] = reason
        log.info("job %s %s not retried: %s", job.id, printable(job.class_name), printable(reason))
        return
    if GAVE_UP_KEY in job.properties:
        execution.properties[GAVE_UP_KEY] = None
    delay = await _delay(execution, policy, error)
    execution.outcome = Outcome(WAITING_STATUS, scheduled_at=now + timedelta(seconds=delay))
    log.info(
        "job %s %s failed on attempt %d (%s); retrying in %.3g s",
        job.id,
        printable(job.class_name),
        job.attempt,
        printable(type(error).__name__),
        delay,
    )


async def _delay(execution: Execution, policy: RetryPolicy, error: Exception) -> float:
    """The worker's ``retry_delay(attempt, error)`` when it defines one, else the backoff.

    ``retry_delay`` returning ``None`` means "use the backoff". If it raises or returns
    something that is not a delay, the backoff is used and the problem is logged and kept in
    ``retry:delay_error``, so a bug there never turns a retry into a lost job.
    """
    attempt = execution.job.spent_attempts
    custom = getattr(execution.worker, "retry_delay", None)
    if custom is not None:
        owner = f"{type(execution.worker).__qualname__}.retry_delay()"
        try:
            value = custom(attempt, error)
            if inspect.isawaitable(value):
                value = await value
            if value is not None:
                delay = seconds(type(execution.worker).__qualname__, "retry_delay()", value)
                if delay < 0:
                    raise RetryOptionError(f"{owner} returned a negative delay ({delay:g} s)")
                return delay
        except Exception as problem:
            log.error(
                "job %s: %s failed (%s); using the backoff",
                execution.job.id,
                printable(owner),
                printable(problem),
            )
            execution.properties[DELAY_ERROR_KEY] = (
                f"{owner}: {type(problem).__name__}: {safe_str(problem)}"
            )
    return backoff_delay(policy, attempt)
