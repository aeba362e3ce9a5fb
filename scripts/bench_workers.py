"""No-op workers for scripts/bench.py's worker processes (``toro-core start -r bench_workers``)."""

from __future__ import annotations

import time

from toro_core import Worker


class SyncNoop(Worker):
    """The configuration users run: a plain ``def perform`` (it runs in a job thread)."""

    def perform(self, i: int) -> None:
        pass


class AsyncNoop(Worker):
    """``async def perform``: runs on the worker's event loop."""

    async def perform(self, i: int) -> None:
        pass


class SyncStamp(Worker):
    """Returns when its ``def perform`` started (scripts/bench.py's latency figure)."""

    def perform(self) -> float:
        return time.time()


class AsyncStamp(Worker):
    """Returns when its ``async def perform`` started."""

    async def perform(self) -> float:
        return time.time()
