"""The ``Worker`` base class: what a job runs, and how it is enqueued.

::

    from toro_core import Worker

    class MyWorker(Worker):
        queue = "users"

        def perform(self, user_id):      # or: async def perform(...)
            ...

    MyWorker.perform_async(15, notify=True)  # sync code; returns the Job with its id
    await MyWorker.aperform_async(15)        # async code
    MyWorker.perform_bulk([(1,), (2,)])      # one round trip; returns the ids
    MyWorker.perform_in(60, 15)              # in a minute (perform_at: at a datetime)
    MyWorker.set(queue="urgent", priority=10).perform_async(15)   # per-call options

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
from toro_core.client import check_priority
from toro_core.configured import Call, Configured
from toro_core.encoding import arguments_digest
from toro_core.errors import UnknownOptionError
from toro_core.limits import spec_of

if TYPE_CHECKING:
    from toro_core.app import Toro
    from toro_core.job import Job


class Worker:
    """Base class of every job type. Subclasses define ``perform(self, *args)``."""

    #: Queue this worker's jobs are enqueued to.
    queue: ClassVar[str] = "default"
    #: Seconds an attempt may run; ``None`` for no limit. See the README on sync jobs.
    timeout: ClassVar[float | None] = None
    #: -100..100: within the queues a process serves, higher priorities are claimed first.
    priority: ClassVar[int] = 0
    #: While a job of this class with the same arguments waits or runs, enqueueing it again
    #: returns that job instead of writing another (see :meth:`unique_key`).
    unique: ClassVar[bool] = False
    #: At most this many jobs of the class (or of each ``concurrency_key``) run at once,
    #: across every process; ``None`` for no limit. See :mod:`toro_core.limits`.
    concurrency_limit: ClassVar[int | None] = None
    #: At most this many starts per period, across every process (``"50/s"``, ``"600/m"``,
    #: ``"1000/h"``); per ``concurrency_key`` when the class defines one.
    rate_limit: ClassVar[str | None] = None
    #: The toro app the enqueue methods use; ``None`` means the process default.
    toro_app: ClassVar[Toro | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        catalog.register(cls)

    def perform(self, *args: Any, **kwargs: Any) -> Any:
        """Do the job's work. May be ``async def``; a sync one runs in a worker thread."""
        raise NotImplementedError(f"{type(self).__name__} does not define perform()")

    # ---------------------------------------------------------------- enqueue

    @classmethod
    def set(cls, **options: Any) -> Configured:
        """This worker with per-call options (``queue``, ``priority``, ``connection``)::

            MyWorker.set(queue="urgent", priority=10).perform_async(15, notify=True)
            MyWorker.set(connection=conn).perform_async(15)    # in conn's transaction

        Every enqueue method below is also a method of the result.
        """
        return Configured(cls, **options)

    @classmethod
    def perform_async(cls, *args: Any, **kwargs: Any) -> Job:
        """Enqueue one job and return it (with its id); keyword arguments go to ``perform``.

        A unique job (``unique = True`` or ``unique_key``) whose key a waiting or running job
        holds is not enqueued again: that job is returned, with ``job.duplicate`` true.
        """
        return Configured(cls).perform_async(*args, **kwargs)

    @classmethod
    def perform_bulk(cls, items: Iterable[Sequence[Any] | Call]) -> list[int]:
        """Enqueue one job per item in one statement; return their ids in order. An item is
        a tuple of positional arguments, or ``Call(*args, **kwargs)``."""
        return Configured(cls).perform_bulk(items)

    @classmethod
    async def aperform_async(cls, *args: Any, **kwargs: Any) -> Job:
        """The awaitable twin of :meth:`perform_async`."""
        return await Configured(cls).aperform_async(*args, **kwargs)

    @classmethod
    async def aperform_bulk(cls, items: Iterable[Sequence[Any] | Call]) -> list[int]:
        """The awaitable twin of :meth:`perform_bulk`."""
        return await Configured(cls).aperform_bulk(items)

    @classmethod
    def perform_in(cls, interval: Any, *args: Any, **kwargs: Any) -> Job:
        """Enqueue a job that runs no earlier than ``interval`` from now (seconds or timedelta).

        It waits with status ``scheduled`` until due (the worker processes' promoter queues it
        then); an interval of 0 queues it at once.
        """
        return Configured(cls).perform_in(interval, *args, **kwargs)

    @classmethod
    def perform_at(cls, when: Any, *args: Any, **kwargs: Any) -> Job:
        """Enqueue a job that runs no earlier than ``when`` (a datetime; naive means UTC)."""
        return Configured(cls).perform_at(when, *args, **kwargs)

    @classmethod
    async def aperform_in(cls, interval: Any, *args: Any, **kwargs: Any) -> Job:
        """The awaitable twin of :meth:`perform_in`."""
        return await Configured(cls).aperform_in(interval, *args, **kwargs)

    @classmethod
    async def aperform_at(cls, when: Any, *args: Any, **kwargs: Any) -> Job:
        """The awaitable twin of :meth:`perform_at`."""
        return await Configured(cls).aperform_at(when, *args, **kwargs)

    @classmethod
    def unique_key(cls, *args: Any, **kwargs: Any) -> str | None:
        """The uniqueness key of a job with these arguments, or ``None`` for no uniqueness.

        By default: with ``unique = True``, a digest of the arguments (one job per class and
        arguments at a time); otherwise ``None``. Override it to choose (a string, or ``None``
        for a call that need not be unique); the class name is prefixed to it.
        """
        return arguments_digest(args, kwargs) if cls.unique else None

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
    if not isinstance(cls.queue, str) or not cls.queue.strip():
        raise UnknownOptionError(f"{cls.__qualname__}.queue must be a non-empty string")
    check_priority(cls.priority, f"{cls.__qualname__}.priority")
    spec_of(cls)
    if not isinstance(cls.unique, bool):
        raise UnknownOptionError(f"{cls.__qualname__}.unique must be True or False")
