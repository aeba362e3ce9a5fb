"""Imported by hardening_workers (never given with -r itself): its worker class runs too."""

from __future__ import annotations

from toro_core import Worker


class HelperWorker(Worker):
    async def perform(self) -> None:
        pass
