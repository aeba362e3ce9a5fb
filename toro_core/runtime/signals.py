"""SIGTERM and SIGINT for a worker started from the command line.

The first signal begins a graceful stop; another within :data:`SAME_SIGNAL` seconds is taken
as the same one (a terminal under ``uv run`` delivers one Ctrl-C twice: to the process group
and again through uv); a signal after that stops at once. An embedded worker installs none of
this: the application that embeds it owns its signals.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time
from typing import Any, Protocol

import anyio
import anyio.abc

log = logging.getLogger("toro.worker")

#: Seconds within which a repeated signal counts as the first one.
SAME_SIGNAL = 0.5


class Stoppable(Protocol):
    def stop(self) -> None: ...

    def stop_now(self) -> None: ...

    @property
    def shutdown_timeout(self) -> float: ...


async def handle_signals(
    process: Stoppable, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
) -> None:
    """Turn SIGTERM/SIGINT into :meth:`stop` and a later second one into :meth:`stop_now`.

    Started with ``await task_group.start(...)``, it returns once the handlers are installed,
    so a signal sent as soon as the process says it runs is never met by the default action.
    """
    first: float | None = None
    try:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            task_status.started()
            async for signum in signals:
                name = signal.Signals(signum).name
                now = time.monotonic()
                if first is None:
                    first = now
                    log.info(
                        "%s: stopping gracefully (up to %.0fs); send it again to stop now",
                        name,
                        process.shutdown_timeout,
                    )
                    process.stop()
                elif now - first < SAME_SIGNAL:
                    log.debug("%s again within %.1fs: the same stop", name, SAME_SIGNAL)
                else:
                    log.warning("%s again: stopping now", name)
                    process.stop_now()
    finally:
        if first is not None:
            _absorb_echoes(first)


def _absorb_echoes(first: float) -> None:
    """After the worker stopped (its receiver gone, Python's handlers back), a repeat of the
    signal that stopped it may still be on its way (uv forwards Ctrl-C a moment later): one
    within :data:`SAME_SIGNAL` of the first is ignored, a later one acts as Python's default."""
    defaults: dict[int, Any] = {
        int(signum): signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)
    }

    def handler(signum: int, frame: Any) -> None:
        if time.monotonic() - first < SAME_SIGNAL:
            return
        previous = defaults[signum]
        signal.signal(signum, previous)
        if callable(previous):
            previous(signum, frame)
        else:
            signal.raise_signal(signum)

    for signum in defaults:
        with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
            signal.signal(signum, handler)
