"""``perform_in`` and ``perform_at``: enqueue a job that runs no earlier than a given time.

``Worker.perform_in`` and friends call these (the kernel imports this module lazily, so it
works only when toro-scheduler is installed)::

    MyWorker.perform_in(30, user_id)                       # seconds or timedelta
    MyWorker.perform_at(datetime(2030, 1, 1, 9, tzinfo=UTC), user_id)
    await MyWorker.aperform_in(timedelta(minutes=5), user_id)

A time in the future is stored with status ``scheduled`` and ``scheduled_at``; the promoter
service of each worker process moves it to ``queued`` when it is due. A time at or before now
is stored as ``queued`` at once (``scheduled_at`` still records the time asked for), so it runs
as soon as a worker is free. Times come from the enqueuing machine's clock; due times are
compared with the database's clock, so keep clocks synchronised (NTP).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from toro_core.errors import ConfigurationError
from toro_scheduler.statuses import SCHEDULED
from toro_scheduler.timing import as_utc, due_after, utcnow

if TYPE_CHECKING:
    import psycopg

    from toro_core.app import Toro
    from toro_core.job import Job
    from toro_core.worker import Worker


def perform_in(
    cls: type[Worker],
    interval: Any,
    args: Sequence[Any],
    *,
    connection: psycopg.Connection[Any] | None = None,
) -> Job:
    """Enqueue ``cls(*args)`` to run after ``interval`` (seconds or ``timedelta``)."""
    when = due_after(interval)
    app = _app(cls)
    return app.client.enqueue(cls, args, connection=connection, **_placement(when))


def perform_at(
    cls: type[Worker],
    when: Any,
    args: Sequence[Any],
    *,
    connection: psycopg.Connection[Any] | None = None,
) -> Job:
    """Enqueue ``cls(*args)`` to run at ``when`` (a datetime; naive means UTC)."""
    moment = as_utc(when)
    app = _app(cls)
    return app.client.enqueue(cls, args, connection=connection, **_placement(moment))


async def aperform_in(
    cls: type[Worker],
    interval: Any,
    args: Sequence[Any],
    *,
    connection: psycopg.AsyncConnection[Any] | None = None,
) -> Job:
    """The awaitable twin of :func:`perform_in`."""
    when = due_after(interval)
    app = _app(cls)
    return await app.aclient.enqueue(cls, args, connection=connection, **_placement(when))


async def aperform_at(
    cls: type[Worker],
    when: Any,
    args: Sequence[Any],
    *,
    connection: psycopg.AsyncConnection[Any] | None = None,
) -> Job:
    """The awaitable twin of :func:`perform_at`."""
    moment = as_utc(when)
    app = _app(cls)
    return await app.aclient.enqueue(cls, args, connection=connection, **_placement(moment))


def _placement(when: datetime) -> dict[str, Any]:
    """Status and due time: ``scheduled`` for a future time, ``queued`` for one already due."""
    status = SCHEDULED.name if when > utcnow() else "queued"
    return {"status": status, "scheduled_at": when}


def _app(cls: type[Worker]) -> Toro:
    """The app ``cls`` enqueues with; an error naming the cure if the scheduler is not in it."""
    app = cls._app()
    if SCHEDULED.name not in app.statuses:
        raise ConfigurationError(
            f"{cls.__qualname__}: the toro-scheduler plugin is installed but not active in this "
            "toro app, so the 'scheduled' status is unknown (is the 'scheduler' entry point left "
            "out by TORO_PLUGINS or TORO_DISABLE_PLUGINS? an app built in code needs "
            "plugins=[toro_scheduler.plugin])"
        )
    return app
