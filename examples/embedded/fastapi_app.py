"""A FastAPI app that runs its toro worker in its own process (``uvicorn fastapi_app:api``).

The worker lives in the app's lifespan: it starts with the app, claims and runs jobs on the
app's event loop (sync ``perform`` in threads), and stops gracefully when the app shuts down
(running jobs get ``shutdown_timeout`` seconds, then go back to queued). No signal handlers
are installed: uvicorn keeps its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from toro_core import Worker, default_app


class SendWelcome(Worker):
    async def perform(self, email: str) -> None:
        print(f"welcome, {email}")


@asynccontextmanager
async def lifespan(api: FastAPI) -> AsyncIterator[None]:
    async with default_app().worker(concurrency=10, queues=["default"]):
        yield


api = FastAPI(lifespan=lifespan)


@api.post("/signup")
async def signup(email: str) -> dict[str, int]:
    job = await SendWelcome.aperform_async(email)
    return {"job": job.id}
