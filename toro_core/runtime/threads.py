"""Long-lived threads for sync ``perform``: one per busy slot, fed one job at a time, results
handed back to the event loop in batches.

A generic thread pool pays per job for a future, a limiter and a wake-up of the event loop.
Here an idle thread waits on its own queue; a job is one ``put``; a finished job appends its
result to a shared list and only the first of a burst wakes the loop, which then settles
every finished job at once. The job runs in a copy of the caller's context (context
variables, such as toro-properties' current job, are seen in the thread).

A job whose attempt is given up (a timeout, a cancel, a stop) keeps running in its thread, as
Python cannot stop a thread: that thread is then retired (it exits once the job returns, its
result dropped) and no longer counts against the slots; the next job gets a fresh thread.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any

#: Name of the threads sync jobs run in (the process exits past retired ones at its end).
THREAD_NAME = "toro job thread"


class _JobThread:
    """One thread and its inbox; ``retired`` once an attempt running in it was given up."""

    __slots__ = ("inbox", "retired", "thread")

    def __init__(self, pool: JobThreads) -> None:
        self.inbox: queue.SimpleQueue[tuple[Callable[[], Any], asyncio.Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self.retired = False
        self.thread = threading.Thread(target=pool._serve, args=(self,), name=THREAD_NAME)
        self.thread.daemon = True
        self.thread.start()


class JobThreads:
    """Runs sync functions in long-lived threads for one event loop; see the module."""

    def __init__(self) -> None:
        self._idle: list[_JobThread] = []
        self._finished: collections.deque[tuple[asyncio.Future[Any], bool, Any]] = (
            collections.deque()
        )
        self._lock = threading.Lock()
        self._wakeup_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None

    async def run(self, function: Callable[[], Any]) -> Any:
        """Run ``function()`` in a thread of its own; return its result or raise its error.

        Cancelling the caller gives the attempt up: the result is dropped, the thread retired.
        """
        loop = self._loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        worker = self._idle.pop() if self._idle else _JobThread(self)
        context = contextvars.copy_context()
        worker.inbox.put((lambda: context.run(function), future))
        try:
            result = await future
        except BaseException:
            if not future.done() or future.cancelled():
                worker.retired = True  # still running the job: it exits once that returns
                worker.inbox.put(None)
            else:
                self._idle.append(worker)
            raise
        self._idle.append(worker)
        return result

    def close(self) -> None:
        """Let the idle threads end (retired ones end once their job returns)."""
        idle, self._idle = self._idle, []
        for worker in idle:
            worker.inbox.put(None)

    # ------------------------------------------------------------------ in the threads

    def _serve(self, worker: _JobThread) -> None:
        while True:
            item = worker.inbox.get()
            if item is None:
                return
            function, future = item
            try:
                outcome: tuple[bool, Any] = (True, function())
            except BaseException as exc:  # handed to the loop, raised there
                outcome = (False, exc)
            if worker.retired:
                return
            self._hand_back(future, *outcome)

    def _hand_back(self, future: asyncio.Future[Any], ok: bool, value: Any) -> None:
        self._finished.append((future, ok, value))
        with self._lock:
            if self._wakeup_pending:
                return
            self._wakeup_pending = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._settle)

    # ------------------------------------------------------------------ on the loop

    def _settle(self) -> None:
        """Set the futures of every job finished since the last wake-up."""
        with self._lock:
            self._wakeup_pending = False
        finished = self._finished
        while finished:
            future, ok, value = finished.popleft()
            if future.done():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
