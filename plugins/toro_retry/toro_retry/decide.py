"""Whether a failed attempt is retried, and after how long: pure functions of the policy."""

from __future__ import annotations

import random
from collections.abc import Callable

from toro_retry.backoff import exponential_delay, fixed_delay
from toro_retry.options import RetryPolicy


def stop_reason(policy: RetryPolicy, attempt: int, error: BaseException) -> str | None:
    """Why attempt number ``attempt``, which raised ``error``, is the job's last; ``None`` to retry.

    ``no_retry_on`` is checked first, then ``retry_on``, then ``max_attempts``.
    """
    kind = type(error).__name__
    if isinstance(error, policy.no_retry_on):
        return f"{kind} is listed in no_retry_on"
    if policy.retry_on is not None and not isinstance(error, policy.retry_on):
        return f"{kind} is not listed in retry_on"
    if policy.max_attempts is not None and attempt >= policy.max_attempts:
        return f"max_attempts reached ({attempt} of {policy.max_attempts})"
    return None


def backoff_delay(
    policy: RetryPolicy,
    attempt: int,
    *,
    uniform: Callable[[float, float], float] = random.uniform,
) -> float:
    """Seconds to wait after attempt number ``attempt`` failed, by the policy's backoff."""
    if policy.backoff == "exponential":
        return exponential_delay(policy.interval, attempt, policy.max_interval, uniform=uniform)
    return fixed_delay(policy.interval, attempt)
