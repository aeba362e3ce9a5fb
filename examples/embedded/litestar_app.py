"""A Litestar app that runs its toro worker in its own process (``litestar --app
litestar_app:app run``); the same lifespan as the FastAPI example, tested in toro's suite
(tests/test_embedded_worker.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, post
from litestar.params import FromQuery

from toro_core import Worker, default_app


class SendWelcome(Worker):
    async def perform(self, email: str) -> None:
        print(f"welcome, {email}")


@asynccontextmanager
async def run_worker(app: Litestar) -> AsyncIterator[None]:
    async with default_app().worker(concurrency=10, queues=["default"]):
        yield


@post("/signup")
async def signup(email: FromQuery[str]) -> dict[str, int]:
    job = await SendWelcome.aperform_async(email)
    return {"job": job.id}


app = Litestar(route_handlers=[signup], lifespan=[run_worker])
