"""Waiting out database outages: one backoff helper for every loop that talks to PostgreSQL.

A loop that must keep going through an outage (the claim loop, the outcome writer, the
heartbeat, the listener, the promoter, plugins' services) keeps a :class:`Retry`: after a
:class:`~toro_core.errors.DatabaseUnavailable` it asks for the next delay (0.1 s doubling to
``cap``, with jitter) and the helper logs the first failure and every tenth, so an outage of
minutes is a handful of lines; the first success after failures is logged once.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

from toro_core.errors import DatabaseUnavailable

T = TypeVar("T")

#: What a loop catches to wait and try again: the database cannot be used right now.
TRANSIENT = (DatabaseUnavailable,)


class Retry:
    """Delays for one loop's failures, with a throttled log line; see the module docstring."""

    def __init__(self, what: str, log: logging.Logger, *, cap: float = 5.0) -> None:
        self.what = what
        self.log = log
        self.cap = cap
        #: Failures since the last success.
        self.failures = 0

    def next_delay(self) -> float:
        """Count one failure and return the seconds to wait before the next try."""
        self.failures += 1
        base = min(self.cap, 0.1 * 2.0 ** min(self.failures - 1, 10))
        return base / 2 + random.random() * base / 2

    def failed(self, exc: BaseException) -> float:
        """Count a failure, log it when it is the first or a tenth; return the delay."""
        delay = self.next_delay()
        if self.failures == 1 or self.failures % 10 == 0:
            self.log.warning("%s failed (%s); retrying in %.1fs", self.what, exc, delay)
        return delay

    async def pause(self, exc: BaseException, until: anyio.Event | None = None) -> None:
        """:meth:`failed`, then sleep the delay (returning early once ``until`` is set)."""
        delay = self.failed(exc)
        with anyio.move_on_after(delay):
            if until is None:
                await anyio.sleep(delay)
            else:
                await until.wait()

    def succeeded(self) -> None:
        """Note a success; after failures, say once that it works again."""
        if self.failures:
            self.log.info("%s works again after %d failed tries", self.what, self.failures)
            self.failures = 0


async def until_done(
    action: Callable[[], Awaitable[T]], *, what: str, log: logging.Logger, cap: float = 5.0
) -> T:
    """Run ``action`` until it succeeds, waiting out ``DatabaseUnavailable`` with backoff."""
    retry = Retry(what, log, cap=cap)
    while True:
        try:
            result = await action()
        except TRANSIENT as exc:
            await retry.pause(exc)
            continue
        retry.succeeded()
        return result
