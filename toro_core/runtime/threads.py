"""Long-lived threads for sync ``perform``, fed in batches, results handed back in bursts.

A generic thread pool pays per job for waking a thread and, above all, for two hand-offs of
the GIL (to the thread, then back to the event loop). Here the jobs that the slots start in one
turn of the event loop go to one thread together (one wake-up); it runs them one after another
and wakes the loop once, at the end of the batch, to settle them all; while a batch runs, the
loop also settles what it finished every :data:`SPREAD_AFTER` seconds. Quick jobs thus pay no
hand-off each.

Jobs of a batch must not wait behind slow ones (jobs that block on I/O or compute): a batch
still running :data:`SPREAD_AFTER` seconds after its first job started has its jobs not
started yet sent to other threads, one each, so slow jobs run side by side as with one thread
per job, paying that delay once (a batch of quick jobs is done long before). A job runs in a
copy of its caller's context (context variables, such as the kernel's current attempt, are
seen in the thread).

An attempt given up while it runs (a timeout, a cancel, a stop) keeps running in its thread, as
Python cannot stop a thread: that thread is retired (it exits once the job returns, its result
dropped), the jobs of its batch not started yet go to other threads, and the next batch gets a
fresh thread. A job given up before it started is skipped. Threads: about one per busy slot at
most, fewer when jobs are quick.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

#: Name of the threads sync jobs run in (the process exits past retired ones at its end).
THREAD_NAME = "toro job thread"
#: Seconds a batch runs before its jobs not started yet go to other threads.
SPREAD_AFTER = 0.002


class _Call:
    """One sync ``perform`` call and the future its attempt awaits."""

    __slots__ = ("context", "function", "future", "skip", "thread")

    def __init__(
        self,
        context: contextvars.Context,
        function: Callable[[], Any],
        future: asyncio.Future[Any],
    ) -> None:
        self.context = context
        self.function = function
        self.future = future
        #: Given up before it started: the thread passes it by.
        self.skip = False
        #: The thread it was handed to (``None`` until then).
        self.thread: _JobThread | None = None


class _Batch:
    """Calls one thread runs in order; :attr:`next` and :attr:`end` change under the lock."""

    __slots__ = ("began_at", "calls", "current", "end", "next")

    def __init__(self, calls: list[_Call]) -> None:
        self.calls = calls
        self.next = 0
        self.end = len(calls)
        #: The call the thread runs now (or ran last, until it takes the next one).
        self.current: _Call | None = None
        #: When its first call started (``time.monotonic()``), 0 before.
        self.began_at = 0.0


class _JobThread:
    """One thread and its inbox; ``retired`` once an attempt running in it was given up."""

    __slots__ = ("batch", "inbox", "retired", "thread")

    def __init__(self, pool: JobThreads) -> None:
        self.inbox: queue.SimpleQueue[_Batch | None] = queue.SimpleQueue()
        self.retired = False
        #: The batch it runs (``None`` while idle).
        self.batch: _Batch | None = None
        self.thread = threading.Thread(target=pool._serve, args=(self,), name=THREAD_NAME)
        self.thread.daemon = True
        self.thread.start()


#: What a thread hands back: a call's future with its result, or (None, the thread) once it
#: finished its batch and is idle again.
_Finished = tuple[asyncio.Future[Any] | None, bool, Any]


class JobThreads:
    """Runs sync functions in long-lived threads for one event loop; see the module."""

    def __init__(self) -> None:
        self._idle: list[_JobThread] = []
        #: Every thread not retired, idle or busy (told to end by :meth:`close`).
        self._threads: set[_JobThread] = set()
        self._pending: list[_Call] = []
        self._finished: collections.deque[_Finished] = collections.deque()
        self._lock = threading.Lock()
        self._wakeup_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None

    async def run(self, function: Callable[[], Any]) -> Any:
        """Run ``function()`` in a job thread; return its result or raise its error.

        Cancelling the caller gives the attempt up: a job not started is skipped; a running
        one's result is dropped and its thread retired.
        """
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        call = _Call(contextvars.copy_context(), function, future)
        pending = self._pending
        pending.append(call)
        if len(pending) == 1:
            loop.call_soon(self._flush)
        try:
            return await future
        except BaseException:
            if not future.done() or future.cancelled():
                self._give_up(call)
            raise

    def close(self) -> None:
        """Let the threads end once their batch is done (retired ones end once their job
        returns)."""
        self._idle = []
        threads, self._threads = self._threads, set()
        for worker in threads:
            worker.inbox.put(None)

    # ------------------------------------------------------------------ on the loop

    def _flush(self) -> None:
        """Hand the calls made since the last flush to one thread, as a batch."""
        calls = [call for call in self._pending if not call.skip]
        self._pending = []
        if calls:
            self._start(_Batch(calls))

    def _start(self, batch: _Batch) -> None:
        if self._idle:
            worker = self._idle.pop()
        else:
            worker = _JobThread(self)
            self._threads.add(worker)
        worker.batch = batch
        for call in batch.calls:
            call.thread = worker
        worker.inbox.put(batch)
        if len(batch.calls) > 1:
            assert self._loop is not None
            self._loop.call_later(SPREAD_AFTER, self._watch, worker, batch)

    def _watch(self, worker: _JobThread, batch: _Batch) -> None:
        """While the batch has calls not started, every :data:`SPREAD_AFTER` seconds: settle
        the calls it finished, and spread the others once it has run that long (a batch whose
        thread has not started yet waits for the GIL: nothing is spread)."""
        if worker.batch is not batch or worker.retired:
            return  # done (its end woke the loop), or its calls not started went elsewhere
        delay = SPREAD_AFTER
        rest = None
        with self._lock:
            # every call started: the one running is the last, the others finished before it
            # started (settled just below), and its end wakes the loop: no timer while it runs
            all_started = batch.next >= batch.end
            if not all_started and batch.began_at:
                running_for = time.monotonic() - batch.began_at
                if running_for >= SPREAD_AFTER:
                    rest = batch.calls[batch.next : batch.end]
                    batch.end = batch.next
                    all_started = True
                else:
                    delay = SPREAD_AFTER - running_for
        self._settle()
        if rest:
            self._spread(rest)
        if not all_started:
            assert self._loop is not None
            self._loop.call_later(delay, self._watch, worker, batch)

    def _spread(self, calls: list[_Call]) -> None:
        """Give each call not given up a thread of its own."""
        for call in calls:
            if not call.skip:
                self._start(_Batch([call]))

    def _give_up(self, call: _Call) -> None:
        """The caller stopped waiting for ``call``: skip it, or retire the thread running it."""
        worker = call.thread
        if worker is None:  # not handed to a thread yet
            call.skip = True
            return
        with self._lock:
            batch = worker.batch
            if batch is None:
                return  # the batch is done: its result is dropped
            if batch.current is not call:
                if _index(batch, call) >= batch.next:  # not started: the thread passes it by
                    call.skip = True
                return  # finished already (its result is dropped), or spread elsewhere
            worker.retired = True  # running it: the thread ends once it returns
            self._threads.discard(worker)
            rest = batch.calls[batch.next : batch.end]
            batch.end = batch.next
        self._spread(rest)

    def _settle(self) -> None:
        """Set the futures of every job finished since the last wake-up; take threads that
        finished their batch back as idle."""
        with self._lock:
            self._wakeup_pending = False
        finished = self._finished
        while finished:
            future, ok, value = finished.popleft()
            if future is None:
                worker: _JobThread = value
                if not worker.retired:
                    self._idle.append(worker)
                continue
            if future.done():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    # ------------------------------------------------------------------ in the threads

    def _serve(self, worker: _JobThread) -> None:
        finished = self._finished
        while True:
            batch = worker.inbox.get()
            if batch is None:
                return
            while True:
                call = self._next_call(worker, batch)
                if call is None:
                    break
                try:
                    outcome: tuple[bool, Any] = (True, call.context.run(call.function))
                except BaseException as exc:  # handed to the loop, raised there
                    outcome = (False, exc)
                if worker.retired:
                    break  # its result is dropped
                # no wake-up per call: the batch's end wakes the loop, and while the batch
                # runs the loop's watch settles what it finished
                finished.append((call.future, *outcome))
            if worker.retired:  # given up while it ran: the rest of its batch went elsewhere
                self._wake_loop()  # the calls it finished before are settled
                return
            finished.append((None, True, worker))
            self._wake_loop()

    def _next_call(self, worker: _JobThread, batch: _Batch) -> _Call | None:
        """The batch's next call to run, or ``None`` when it is done or the thread retired."""
        with self._lock:
            while not worker.retired and batch.next < batch.end:
                call = batch.calls[batch.next]
                batch.next += 1
                if not call.skip:
                    batch.current = call
                    if not batch.began_at:
                        batch.began_at = time.monotonic()
                    return call
            if not worker.retired:
                batch.current = None
                worker.batch = None
            return None

    def _wake_loop(self) -> None:
        """Have the loop settle what the threads finished (one wake-up at a time)."""
        with self._lock:
            if self._wakeup_pending:
                return
            self._wakeup_pending = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._settle)


def _index(batch: _Batch, call: _Call) -> int:
    """Where ``call`` is in ``batch`` (-1 when it is not there)."""
    for index, candidate in enumerate(batch.calls):
        if candidate is call:
            return index
    return -1
