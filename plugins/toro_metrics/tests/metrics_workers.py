"""Worker classes of the toro-metrics tests (imported by worker processes with -r)."""

from __future__ import annotations

import os

import anyio

from toro_core import Worker


class Quick(Worker):
    queue = "fast"

    async def perform(self, n: int) -> None:
        return None


class Mail(Worker):
    """A sync worker (runs in a thread)."""

    queue = "mail"

    def perform(self, n: int) -> None:
        return None


class Boom(Worker):
    queue = "fast"

    async def perform(self, n: int) -> None:
        raise RuntimeError(f"boom {n}")


class Gate(Worker):
    """Runs until the file it names exists: jobs that are running while the test looks."""

    queue = "slow"

    async def perform(self, path: str) -> None:
        with anyio.fail_after(60):
            while not os.path.exists(path):
                await anyio.sleep(0.02)
