"""Jobs in tests without a worker process: drain, inline mode, and what waits."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toro_core.app import Toro
    from toro_core.job import Job
    from toro_core.runtime.drain import Ran
    from toro_core.worker import Worker


def _app(app: Toro | None) -> Toro:
    from toro_core.app import default_app

    return app or default_app()


def drain(
    app: Toro | None = None,
    queues: Sequence[str] | None = None,
    *,
    with_scheduled: bool = False,
    max_jobs: int = 10_000,
) -> list[Ran]:
    """Run every waiting job of ``queues`` (default: all) in this process, one at a time, until
    none is left, through the app's plugins and outcome rules exactly as a worker would; due
    scheduled jobs too, and with ``with_scheduled`` every scheduled one (a retry's next
    attempt). Returns what ran, in order: each :class:`~toro_core.runtime.drain.Ran` has the
    ``job``, its ``status``, ``result`` and ``error``."""
    from toro_core.runtime.drain import adrain, run_sync

    return list(
        run_sync(adrain, _app(app), queues, with_scheduled=with_scheduled, max_jobs=max_jobs)
    )


async def adrain(
    app: Toro | None = None,
    queues: Sequence[str] | None = None,
    *,
    with_scheduled: bool = False,
    max_jobs: int = 10_000,
) -> list[Ran]:
    """The awaitable twin of :func:`drain` (for async tests)."""
    from toro_core.runtime import drain as running

    return await running.adrain(_app(app), queues, with_scheduled=with_scheduled, max_jobs=max_jobs)


@contextlib.contextmanager
def inline(app: Toro | None = None) -> Iterator[Toro]:
    """Within the block, every enqueue on the app's own connections runs the job at once in
    this process (as :func:`drain` runs it) and returns it finished; a job enqueued in your own
    transaction (``set(connection=...)``) cannot run before it commits, so it waits for a
    :func:`drain`. Also a fixture: ``toro_inline``."""
    target = _app(app)
    previous, target.inline = target.inline, True
    try:
        yield target
    finally:
        target.inline = previous


def enqueued(worker_class: type[Worker], app: Toro | None = None) -> list[Job]:
    """The waiting jobs (queued, scheduled or blocked) of ``worker_class``, oldest first."""
    return _app(app).client.store().waiting_jobs(worker_class.class_name())


def assert_enqueued(
    worker_class: type[Worker],
    *args: Any,
    app: Toro | None = None,
    queue: str | None = None,
    **kwargs: Any,
) -> Job:
    """Assert a job of ``worker_class`` with these arguments (and ``queue``, if given) waits;
    return it. The failure message lists what waits instead."""
    waiting = enqueued(worker_class, app)
    for job in waiting:
        if job.args == list(args) and job.kwargs == kwargs and queue in (None, job.queue):
            return job
    shown = "; ".join(f"{j.args} {j.kwargs} in {j.queue}" for j in waiting[:10]) or "nothing"
    where = f" in queue {queue!r}" if queue else ""
    raise AssertionError(
        f"no waiting {worker_class.__qualname__} job with args {list(args)} and kwargs "
        f"{kwargs}{where}; waiting: {shown}"
    )


def refute_enqueued(
    worker_class: type[Worker], *args: Any, app: Toro | None = None, **kwargs: Any
) -> None:
    """Assert no job of ``worker_class`` waits (with these arguments, when any are given)."""
    for job in enqueued(worker_class, app):
        if not (args or kwargs) or (job.args == list(args) and job.kwargs == kwargs):
            raise AssertionError(f"{worker_class.__qualname__} job {job.id} is waiting: {job}")
