"""Flow-control options of a worker class: ``concurrency_limit``, ``concurrency_key`` and
``rate_limit``, read once per class into a :class:`LimitSpec`.

::

    class Export(Worker):
        concurrency_limit = 1            # at most one running at once, across every process

        @classmethod
        def concurrency_key(cls, customer_id, *args, **kwargs):
            return str(customer_id)      # ... per customer (None: no limit for this call)

    class CallPartner(Worker):
        rate_limit = "50/s"              # at most 50 starts in any second ("/m", "/h" too)

The limits are enforced by the claim statement (see ``claim_jobs`` in the store's SQL).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toro_core.worker import Worker

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smh])\s*$")
_PERIODS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_KEY_LIMIT = 200


@dataclasses.dataclass(frozen=True, slots=True)
class LimitSpec:
    """A class's limits; ``None`` fields are limits it does not have."""

    concurrency: int | None = None
    rate: int | None = None
    per_seconds: float | None = None

    @property
    def limited(self) -> bool:
        return self.concurrency is not None or self.rate is not None

    def params(self, limit_key: str | None) -> dict[str, Any]:
        """The enqueue statement's limit parameters for a job counted against ``limit_key``."""
        if limit_key is None:
            return {"limit_key": None, "concurrency": None, "rate": None, "per_seconds": None}
        return {
            "limit_key": limit_key,
            "concurrency": self.concurrency,
            "rate": self.rate,
            "per_seconds": self.per_seconds,
        }


NO_LIMITS = LimitSpec()


def parse_rate(value: Any, what: str) -> tuple[int, float]:
    """``"50/s"`` (or ``/m``, ``/h``, ``"100/10s"``) as ``(count, seconds)``."""
    match = _RATE.match(value) if isinstance(value, str) else None
    if not match or int(match.group(1)) < 1 or match.group(2) == "0":
        raise ValueError(
            f"{what} must look like '50/s', '600/m' or '1000/h' (a count of at least 1 per "
            f"second, minute or hour), not {value!r}"
        )
    period = _PERIODS[match.group(3)] * (int(match.group(2)) if match.group(2) else 1)
    return int(match.group(1)), period


def spec_of(cls: type[Worker]) -> LimitSpec:
    """The limits ``cls`` declares (checked: a bad value is an error naming the option)."""
    name = cls.__qualname__
    concurrency = cls.concurrency_limit
    if concurrency is not None and (
        not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1
    ):
        raise ValueError(f"{name}.concurrency_limit must be an int of at least 1 or None")
    if cls.rate_limit is None:
        return LimitSpec(concurrency=concurrency)
    rate, per = parse_rate(cls.rate_limit, f"{name}.rate_limit")
    return LimitSpec(concurrency=concurrency, rate=rate, per_seconds=per)


def limit_key(
    cls: type[Worker], spec: LimitSpec, args: Sequence[Any], kwargs: dict[str, Any]
) -> str | None:
    """The limit a job counts against: the class, or the class and ``concurrency_key``'s
    answer; ``None`` for a class without limits or a call the key method exempts."""
    if not spec.limited:
        return None
    keyer = getattr(cls, "concurrency_key", None)
    if keyer is None:
        return cls.class_name()
    key = keyer(*args, **kwargs)
    if key is None:
        return None
    if not isinstance(key, str) or not key or len(key) > _KEY_LIMIT:
        raise TypeError(
            f"{cls.__qualname__}.concurrency_key() must return None or a string of 1 to "
            f"{_KEY_LIMIT} characters, not {key!r:.60}"
        )
    return f"{cls.class_name()}:{key}"
