"""The embedded worker: inside a Litestar app's lifespan, and in a thread for sync code."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator

import pytest
from litestar import Litestar, post
from litestar.testing import TestClient

from toro_core import Worker
from toro_core.testing import wait_for

SEEN: list[str] = []


class Greet(Worker):
    async def perform(self, name: str) -> None:
        SEEN.append(name)


def make_litestar(toro_app) -> Litestar:
    @contextlib.asynccontextmanager
    async def run_worker(app: Litestar) -> AsyncIterator[None]:
        async with toro_app.worker(concurrency=5, queues=["default"], shutdown_timeout=5):
            yield

    @post("/greet")
    async def greet(name: str) -> dict[str, int]:
        job = await Greet.aperform_async(name)
        return {"job": job.id}

    return Litestar(route_handlers=[greet], lifespan=[run_worker])


@pytest.mark.toro_plugins()
def test_a_request_enqueues_and_the_job_runs_in_the_same_process(toro_app):
    SEEN.clear()
    with TestClient(app=make_litestar(toro_app)) as client:
        response = client.post("/greet", params={"name": "ann"})
        assert response.status_code == 201
        job_id = response.json()["job"]
        wait_for(lambda: SEEN == ["ann"], timeout=10)
        wait_for(lambda: (toro_app.job(job_id) or Greet).status == "complete", timeout=5)
    # the lifespan's end stopped the worker and left the registry
    assert toro_app.client.store().processes() == []


def test_the_worker_fails_to_start_with_a_clear_error(make_app):
    app = make_app()
    app.database_url = "postgresql://postgres@127.0.0.1:1/nowhere"

    async def main() -> None:
        async with app.worker():
            pass

    import anyio

    from toro_core import DatabaseUnavailable

    with pytest.raises(DatabaseUnavailable, match="port=1"):
        anyio.run(main)


class SlowSync(Worker):
    def perform(self, seconds: float) -> None:
        time.sleep(seconds)


def test_background_worker_for_sync_code_stops_gracefully(toro_app):
    jobs = [SlowSync.perform_async(0.5) for _ in range(3)]
    with toro_app.background_worker(concurrency=3, shutdown_timeout=10) as worker:
        assert worker.ready.is_set()
        wait_for(lambda: all(toro_app.job(j.id).status == "running" for j in jobs), timeout=10)
    # leaving the block waited for the running jobs
    assert [toro_app.job(j.id).status for j in jobs] == ["complete"] * 3
    assert toro_app.client.store().processes() == []
