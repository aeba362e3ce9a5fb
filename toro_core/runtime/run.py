"""Three ways to run a worker process's loop: as the whole process, or inside an application.

* :func:`run_worker` is ``toro-core start``: it owns the process (signals, the default app, the
  exit code) and returns when a signal has stopped it.
* :func:`embedded_worker` runs the same loop in the caller's event loop (a FastAPI or Litestar
  lifespan, a test): no signal handlers, and a graceful stop when the block exits.
* :func:`threaded_worker` runs it in a thread of its own, for sync code (a WSGI app).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import anyio
import anyio.from_thread
import anyio.lowlevel

from toro_core.runtime.process import WorkerProcess
from toro_core.runtime.threads import THREAD_NAME

if TYPE_CHECKING:
    from toro_core.app import Toro
    from toro_core.settings import WorkerSettings

log = logging.getLogger("toro.worker")
#: The name of the threads sync ``perform`` runs in.
JOB_THREAD_NAME = THREAD_NAME


def run_worker(app: Toro, settings: WorkerSettings) -> int:
    """Run a worker process until it is stopped by a signal; returns the exit code.

    ``app`` is the process default for the run, so jobs that enqueue jobs use it. The caller
    hands the process over (``toro-core start``, ``manage.py toro_worker``): what it loaded so
    far is frozen out of the garbage collector's passes (``gc.freeze()``).
    """
    from toro_core.app import set_default_app

    previous = set_default_app(app)
    # The process is the worker's: what it holds by now (the app, its plugins, the worker
    # classes and every module they imported) lives as long as it does. Frozen, it is left out
    # of the garbage collector's passes, whose full ones otherwise walked it all while jobs
    # waited (10 to 12 ms each, about one per 10,000 no-op jobs, with every plugin loaded).
    gc.freeze()
    try:
        code = anyio.run(WorkerProcess(app, settings).run, backend="asyncio")
    finally:
        set_default_app(previous)
    _exit_past_abandoned_threads(code)
    return code


@contextlib.asynccontextmanager
async def embedded_worker(
    app: Toro, settings: WorkerSettings, *, signals: bool = False
) -> AsyncIterator[WorkerProcess]:
    """Run a worker in the current event loop for the duration of the block.

    The worker is registered and claiming when the block starts; when it ends (normally or by
    an exception) the worker stops gracefully: running jobs get ``shutdown_timeout`` seconds,
    then are put back to queued. The process default app is not changed. A worker that fails
    to start (no database, no schema) raises here.
    """
    worker = WorkerProcess(app, settings, signals=signals)
    failure: list[Exception] = []  # the worker's, before it was ready
    raised: list[Exception] = []  # the block's, raised again outside the task group
    settled = anyio.Event()  # ready, or failed before it was

    async def run() -> None:
        try:
            await worker.run()
        except Exception as exc:
            if worker.ready.is_set():
                raise
            failure.append(exc)
            settled.set()

    async def wait_ready() -> None:
        await worker.ready.wait()
        settled.set()

    async with anyio.create_task_group() as group:
        group.start_soon(run)
        group.start_soon(wait_ready)
        await settled.wait()
        if failure:
            group.cancel_scope.cancel()  # wait_ready would wait forever
        else:
            try:
                yield worker
            except Exception as exc:
                raised.append(exc)
            finally:
                worker.stop()
    if failure:
        raise failure[0]
    if raised:
        raise raised[0]


@contextlib.contextmanager
def threaded_worker(app: Toro, settings: WorkerSettings) -> Iterator[WorkerProcess]:
    """Run a worker in a thread of its own (its own event loop) for the duration of the block:
    the sync twin of :func:`embedded_worker`, for WSGI apps and scripts."""
    started = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        try:
            async with embedded_worker(app, settings) as worker:
                box["worker"] = worker
                box["token"] = anyio.lowlevel.current_token()
                started.set()
                await worker.stopping.wait()
        except BaseException as exc:
            box["error"] = exc
            started.set()
            raise

    thread = threading.Thread(
        target=lambda: anyio.run(main, backend="asyncio"), name="toro-worker", daemon=True
    )
    thread.start()
    started.wait()
    if "error" in box:
        thread.join()
        raise box["error"]
    worker: WorkerProcess = box["worker"]
    try:
        yield worker
    finally:
        anyio.from_thread.run_sync(worker.stop, token=box["token"])
        thread.join()


def _exit_past_abandoned_threads(code: int) -> None:
    """End the process now if sync jobs that were cancelled or timed out still run.

    Python cannot stop a thread, and at exit it would wait for each of them to return. Their
    attempts are over (outcomes written, cancelled jobs requeued), so nothing is lost by not
    waiting.
    """

    def job_threads() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == JOB_THREAD_NAME and t.is_alive()]

    deadline = time.monotonic() + 0.5  # idle ones are on their way out
    for thread in job_threads():
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = job_threads()
    if stuck:
        log.warning("%d abandoned job threads are still running; exiting without them", len(stuck))
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
