"""Worker classes for the hardening tests (imported by worker processes with ``-r``)."""

from __future__ import annotations

import os
import sys

import anyio
import hardening_helpers  # noqa: F401  (defines HelperWorker: loaded, though not given with -r)

from toro_core import Worker


class Quick(Worker):
    """Completes after a moment (the innocent jobs of a batch)."""

    async def perform(self, n: int, **kwargs: object) -> None:
        await anyio.sleep(0.05)


class Crash(Worker):
    """Kills its worker process on every attempt, as a segfault or the OOM killer would."""

    queue = "crash"

    def perform(self) -> None:
        sys.stdout.flush()
        os._exit(1)


class Exits(Worker):
    """Calls sys.exit() (sync) or raises KeyboardInterrupt (async)."""

    def perform(self, code: int) -> None:
        sys.exit(code)


class Interrupts(Worker):
    async def perform(self) -> None:
        raise KeyboardInterrupt


class Fails(Worker):
    """Fails with the message it is given (control characters included)."""

    async def perform(self, message: str) -> None:
        raise RuntimeError(message)


class BadStr(Exception):
    def __str__(self) -> str:
        raise ValueError("no text for you")


class FailsBadly(Worker):
    """Raises an exception whose ``str()`` raises too."""

    async def perform(self) -> None:
        raise BadStr()
