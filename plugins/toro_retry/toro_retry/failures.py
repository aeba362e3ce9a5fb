"""What toro-retry does when an attempt fails: record it and maybe reschedule the job.

The kernel calls the ``job_failed`` hook only for an attempt whose ``perform`` raised, so
attempts that succeed cost the plugin nothing (no middleware is entered around them). A retried
job gets ``Outcome("scheduled", scheduled_at=now + delay)``; the kernel's promoter queues it
again when that time comes. The kernel stores the last error in ``error:class``,
``error:message`` and ``error:backtrace`` either way.
"""

from __future__ import annotations

import inspect
import logging
from datetime import UTC, datetime, timedelta

from toro_core import Execution, Outcome, Worker
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


async def on_failure(execution: Execution, error: Exception) -> None:
    """The ``job_failed`` hook's work: for a class that retries, record the failure and,
    unless it was the last try, reschedule the job (nothing for a class that does not
    retry). A cancel or a snooze never gets here (the kernel does not call the hook for them).
    A class whose retry options are unusable never runs at all: ``check_worker`` refuses it,
    at enqueue and when the worker loads the class."""
    worker = execution.worker
    if worker is None:
        return
    policy = cached_policy(type(worker))
    if policy is not None:
        await record_failure(execution, policy, error)


def on_finished(execution: Execution) -> None:
    """The ``job_finished`` hook's work: an attempt that did not fail clears the reason an
    earlier attempt gave up for (a job retried by hand that now succeeds)."""
    if execution.error is None and GAVE_UP_KEY in execution.job.properties:
        execution.properties[GAVE_UP_KEY] = None


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
