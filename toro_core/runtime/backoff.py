"""Retrying database work through an outage: capped exponential backoff with jitter."""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
import psycopg
import psycopg_pool

T = TypeVar("T")

#: Errors that mean "the database is not reachable right now", not "this query is wrong".
TRANSIENT = (psycopg.OperationalError, psycopg_pool.PoolTimeout, OSError)


class Backoff:
    """Delays of 0.1 s doubling to ``cap`` seconds, with jitter; reset after a success."""

    def __init__(self, cap: float = 5.0) -> None:
        self.cap = cap
        self.failures = 0

    def next_delay(self) -> float:
        self.failures += 1
        base = min(self.cap, 0.1 * 2.0 ** min(self.failures - 1, 10))
        return base / 2 + random.random() * base / 2

    def reset(self) -> None:
        self.failures = 0


async def until_done(
    action: Callable[[], Awaitable[T]], *, what: str, log: logging.Logger, cap: float = 5.0
) -> T:
    """Run ``action`` until it succeeds, waiting out transient database errors."""
    backoff = Backoff(cap)
    while True:
        try:
            return await action()
        except TRANSIENT as exc:
            delay = backoff.next_delay()
            if backoff.failures == 1 or backoff.failures % 10 == 0:
                log.warning("%s failed (%s); retrying in %.1fs", what, _short(exc), delay)
            await anyio.sleep(delay)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
