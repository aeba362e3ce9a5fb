"""The embedded worker: inside a Litestar app's lifespan, and in a thread for sync code."""

from __future__ import annotations

import contextlib
import importlib.util
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import anyio
import pytest
from litestar import Litestar, post
from litestar.params import FromQuery
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
    async def greet(name: FromQuery[str]) -> dict[str, int]:
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


EXAMPLES = Path(__file__).parent.parent / "examples" / "embedded"


def load_example(name: str) -> ModuleType:
    """Import ``examples/embedded/<name>.py`` as a module of its own."""
    spec = importlib.util.spec_from_file_location(f"embedded_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # the worker finds the job's class by its module
    spec.loader.exec_module(module)
    return module


@pytest.mark.toro_plugins()
@pytest.mark.parametrize("example", ["fastapi_app", "litestar_app"])
def test_the_documented_examples_run_a_job_in_their_own_process(toro_app, example, capsys):
    module = load_example(example)
    if example == "fastapi_app":
        from fastapi.testclient import TestClient as Client

        application = module.api
    else:
        Client = TestClient
        application = module.app
    with Client(application) as client:
        response = client.post("/signup", params={"email": "ann@example.com"})
        assert response.status_code in (200, 201), response.text
        job_id = response.json()["job"]
        wait_for(lambda: toro_app.job(job_id).status == "complete", timeout=10)
    assert "welcome, ann@example.com" in capsys.readouterr().out
    assert toro_app.client.store().processes() == []


@pytest.mark.toro_plugins()
def test_an_embedded_worker_installs_no_signal_handler_and_stops_gracefully(toro_app):
    job = SlowSync.perform_async(0.5)
    seen: dict[str, object] = {}

    async def main() -> None:
        before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
        async with toro_app.worker(concurrency=2, shutdown_timeout=10):
            await anyio.to_thread.run_sync(
                lambda: wait_for(lambda: toro_app.job(job.id).status == "running", timeout=10)
            )
            seen["inside"] = {s: signal.getsignal(s) for s in before}
        seen["before"] = before

    anyio.run(main)
    assert seen["inside"] == seen["before"]
    # leaving the block waited for the running job instead of cancelling it
    assert toro_app.job(job.id).status == "complete"
    assert toro_app.client.store().processes() == []
