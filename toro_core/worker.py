"""The ``Worker`` base class: what a job runs, and how it is enqueued.

::

    from toro_core import Worker

    class MyWorker(Worker):
        queue = "users"

        def perform(self, user_id):      # or: async def perform(...)
            ...

    MyWorker.perform_async(15)               # sync code; returns the Job with its id
    await MyWorker.aperform_async(15)        # async code
    MyWorker.perform_bulk([(1,), (2,)])      # one round trip; returns the ids
    MyWorker.perform_in(60, 15)              # in a minute (perform_at: at a datetime)

Options are class attributes. Every public data attribute of a subclass must be an option that
the kernel or an installed plugin declares (``worker_options`` hook), so a misspelt option is an
``UnknownOptionError`` instead of a silent no-op. Keep helpers in methods or ``_private`` names.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from toro_core import catalog
from toro_core.client import placement
from toro_core.errors import UnknownOptionError
from toro_core.timing import as_utc, due_after

if TYPE_CHECKING:
    import psycopg

    from toro_core.app import Toro
    from toro_core.job import Job


class Worker:
    """Base class of every job type. Subclasses define ``perform(self, *args)``."""

    #: Queue this worker's jobs are enqueued to.
    queue: ClassVar[str] = "default"
    #: Seconds an attempt may run; ``None`` for no limit. See the README on sync jobs.
    timeout: ClassVar[float | None] = None
    #: The toro app the enqueue methods use; ``None`` means the process default.
    toro_app: ClassVar[Toro | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        catalog.register(cls)

    def perform(self, *args: Any) -> Any:
        """Do the job's work. May be ``async def``; a sync one runs in a worker thread."""
        raise NotImplementedError(f"{type(self).__name__} does not define perform()")

    # ---------------------------------------------------------------- enqueue (sync)

    @classmethod
    def perform_async(cls, *args: Any, connection: psycopg.Connection[Any] | None = None) -> Job:
        """Enqueue one job and return it (with its id).

        With ``connection`` the job is inserted in that connection's current transaction and
        exists only if the caller commits it.
        """
        return cls._app().client.enqueue(cls, args, connection=connection)

    @classmethod
    def perform_bulk(
        cls,
        args_list: Iterable[Sequence[Any]],
        *,
        connection: psycopg.Connection[Any] | None = None,
    ) -> list[int]:
        """Enqueue one job per argument tuple in one statement; return their ids in order."""
        return cls._app().client.enqueue_bulk(cls, args_list, connection=connection)

    # ---------------------------------------------------------------- enqueue (async)

    @classmethod
    async def aperform_async(
        cls, *args: Any, connection: psycopg.AsyncConnection[Any] | None = None
    ) -> Job:
        """The awaitable twin of :meth:`perform_async`."""
        return await cls._app().aclient.enqueue(cls, args, connection=connection)

    @classmethod
    async def aperform_bulk(
        cls,
        args_list: Iterable[Sequence[Any]],
        *,
        connection: psycopg.AsyncConnection[Any] | None = None,
    ) -> list[int]:
        """The awaitable twin of :meth:`perform_bulk`."""
        return await cls._app().aclient.enqueue_bulk(cls, args_list, connection=connection)

    # ---------------------------------------------------------------- later

    @classmethod
    def perform_in(
        cls, interval: Any, *args: Any, connection: psycopg.Connection[Any] | None = None
    ) -> Job:
        """Enqueue a job that runs no earlier than ``interval`` from now (seconds or timedelta).

        It waits with status ``scheduled`` until due (the worker processes' promoter queues it
        then); an interval of 0 queues it at once.
        """
        options = placement(due_after(interval))
        return cls._app().client.enqueue(cls, args, connection=connection, **options)

    @classmethod
    def perform_at(
        cls, when: Any, *args: Any, connection: psycopg.Connection[Any] | None = None
    ) -> Job:
        """Enqueue a job that runs no earlier than ``when`` (a datetime; naive means UTC)."""
        options = placement(as_utc(when))
        return cls._app().client.enqueue(cls, args, connection=connection, **options)

    @classmethod
    async def aperform_in(
        cls, interval: Any, *args: Any, connection: psycopg.AsyncConnection[Any] | None = None
    ) -> Job:
        """The awaitable twin of :meth:`perform_in`."""
        options = placement(due_after(interval))
        return await cls._app().aclient.enqueue(cls, args, connection=connection, **options)

    @classmethod
    async def aperform_at(
        cls, when: Any, *args: Any, connection: psycopg.AsyncConnection[Any] | None = None
    ) -> Job:
        """The awaitable twin of :meth:`perform_at`."""
        options = placement(as_utc(when))
        return await cls._app().aclient.enqueue(cls, args, connection=connection, **options)

    # ---------------------------------------------------------------- helpers

    @classmethod
    def _app(cls) -> Toro:
        from toro_core.app import default_app

        return cls.toro_app or default_app()

    @classmethod
    def class_name(cls) -> str:
        """The name stored in ``toro_jobs.class_name``."""
        return catalog.class_name_of(cls)


def declared_options(cls: type[Worker]) -> dict[str, Any]:
    """The public data attributes that ``cls`` and its bases below ``Worker`` set."""
    found: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if klass is Worker or not issubclass(klass, Worker):
            continue
        for name, value in vars(klass).items():
            if name.startswith("_") or name == "toro_app":
                continue
            if inspect.isroutine(value) or isinstance(
                value, (classmethod, staticmethod, property, type)
            ):
                continue
            found[name] = value
    return found


def check_options(cls: type[Worker], known: Mapping[str, str]) -> None:
    """Raise ``UnknownOptionError`` for an attribute of ``cls`` that no plugin declares."""
    for name in declared_options(cls):
        if name in known:
            continue
        close = difflib.get_close_matches(name, list(known), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownOptionError(
            f"{cls.__qualname__}.{name} is not a toro worker option{hint}; known options: "
            f"{', '.join(sorted(known))}. Options come from toro-core and installed plugins; "
            "name helper attributes with a leading underscore."
        )
    if not isinstance(cls.queue, str) or not cls.queue:
        raise UnknownOptionError(f"{cls.__qualname__}.queue must be a non-empty string")
