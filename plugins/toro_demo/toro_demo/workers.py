"""Workers of ``toro-core demo``: a small shop's background jobs, one for each feature.

Options that belong to plugins (``retry_interval``) are set only when that plugin is active,
so the demo runs with toro-core alone as well as with every plugin installed.
"""

from __future__ import annotations

import random
from contextlib import asynccontextmanager
from typing import Any

import anyio

from toro_core import Execution, Outcome, Status, Worker, hookimpl


class SendReceipt(Worker):
    """Quick async jobs: most of the stream."""

    queue = "mail"

    @classmethod
    def job_name(cls, order_id: int) -> str:
        return f"receipt for order #{order_id}"

    async def perform(self, order_id: int) -> None:
        await anyio.sleep(random.uniform(0.05, 0.6))


class ResizeImage(Worker):
    """Sync work in a thread, returning properties (shown by toro-properties)."""

    queue = "media"

    def perform(self, image_id: int) -> dict[str, Any]:
        import time

        time.sleep(random.uniform(0.2, 1.5))
        return {
            "job_properties": {
                "image_id": image_id,
                "sizes": [64, 256, 1024],
                "source": {"width": 4000, "height": 3000},
            }
        }


class ChargeCard(Worker):
    """Fails now and then; retried when toro-retry is active."""

    queue = "payments"

    async def perform(self, order_id: int) -> None:
        await anyio.sleep(0.1)
        if random.random() < 0.35:
            raise ConnectionError(f"payment gateway timed out for order #{order_id}")


class NightlyReport(Worker):
    """Enqueued with perform_in when toro-scheduler is active."""

    queue = "reports"

    async def perform(self, day: str) -> dict[str, Any]:
        await anyio.sleep(0.3)
        return {"job_properties": {"day": day, "orders": random.randint(50, 500)}}


class DemoPlugin:
    """A plugin registered in code: a custom status and a middleware that uses it."""

    @hookimpl
    def statuses(self) -> list[Status]:
        return [Status("skipped", "Skipped", "#a0a0a0", final=True)]

    @hookimpl
    def around_job(self, execution: Execution) -> Any:
        @asynccontextmanager
        async def skip_duplicates() -> Any:
            yield
            args = execution.job.args
            if execution.job.class_name.endswith("SendReceipt") and args and args[0] % 7 == 0:
                execution.outcome = Outcome("skipped")
                execution.properties["skipped:reason"] = "a receipt was already sent"

        return skip_duplicates()


def enable_plugin_options(active: set[str]) -> None:
    """Turn on the options of active plugins (class attributes are checked against them)."""
    if "retry" in active:
        ChargeCard.retry_interval = 2  # type: ignore[attr-defined]
        ChargeCard.max_attempts = 3  # type: ignore[attr-defined]
