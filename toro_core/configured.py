"""Per-call options: ``MyWorker.set(queue="urgent", priority=10).perform_async(...)``.

Sidekiq's habit: the class attributes are a worker's defaults, and ``set(...)`` overrides some
of them for one enqueue (or several: the result can be kept and reused). Every enqueue method
of a ``Worker`` goes through a :class:`Configured`, so the options never collide with
``perform``'s own parameters: everything after the arguments of ``perform_async`` is passed to
``perform``, and the options travel separately.

Options:

* ``queue``: the queue to enqueue to (default the class's ``queue``);
* ``priority``: -100..100, larger runs first (default the class's ``priority``, 0);
* ``connection``: a psycopg connection (sync or async, matching the method) whose transaction
  the job joins: it exists only if that transaction commits.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from toro_core.timing import as_utc, due_after, placement

if TYPE_CHECKING:
    from toro_core.job import Job
    from toro_core.worker import Worker

#: The options ``Worker.set`` takes.
OPTIONS = ("queue", "priority", "connection")


@dataclasses.dataclass(frozen=True, slots=True)
class Call:
    """One job's arguments for a bulk enqueue when it has keyword arguments:
    ``MyWorker.perform_bulk([Call(1, user="ann"), Call(2)])`` (a plain tuple is positional
    arguments only)."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        object.__setattr__(self, "args", args)
        object.__setattr__(self, "kwargs", kwargs)


class Configured:
    """A worker class with options for the jobs it enqueues; see the module docstring."""

    __slots__ = ("_connection", "_options", "worker_class")

    def __init__(self, worker_class: type[Worker], **options: Any) -> None:
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise TypeError(
                f"{worker_class.__qualname__}.set() got unknown option(s) {', '.join(unknown)}; "
                f"it takes {', '.join(OPTIONS)}"
            )
        self.worker_class = worker_class
        self._connection = options.pop("connection", None)
        self._options = {k: v for k, v in options.items() if v is not None}

    def set(self, **options: Any) -> Configured:
        """These options with ``options`` changed."""
        merged = {**self._options, "connection": self._connection, **options}
        return Configured(self.worker_class, **merged)

    def __repr__(self) -> str:
        shown = {**self._options, **({"connection": "..."} if self._connection else {})}
        return f"{self.worker_class.__qualname__}.set({shown})"

    # ---------------------------------------------------------------- now

    def perform_async(self, *args: Any, **kwargs: Any) -> Job:
        """Enqueue one job and return it (its id, or the existing job if it was a unique
        duplicate: ``job.duplicate``). Keyword arguments go to ``perform``."""
        client = self.worker_class._app().client
        return client.enqueue(
            self.worker_class, args, kwargs, connection=self._connection, **self._options
        )

    async def aperform_async(self, *args: Any, **kwargs: Any) -> Job:
        """The awaitable twin of :meth:`perform_async`."""
        client = self.worker_class._app().aclient
        return await client.enqueue(
            self.worker_class, args, kwargs, connection=self._connection, **self._options
        )

    def perform_bulk(self, items: Iterable[Sequence[Any] | Call]) -> list[int]:
        """Enqueue one job per item (a tuple of positional arguments, or a :class:`Call`) in one
        statement; return their ids in order."""
        client = self.worker_class._app().client
        return client.enqueue_bulk(
            self.worker_class, items, connection=self._connection, **self._options
        )

    async def aperform_bulk(self, items: Iterable[Sequence[Any] | Call]) -> list[int]:
        """The awaitable twin of :meth:`perform_bulk`."""
        client = self.worker_class._app().aclient
        return await client.enqueue_bulk(
            self.worker_class, items, connection=self._connection, **self._options
        )

    # ---------------------------------------------------------------- later

    def perform_in(self, interval: Any, *args: Any, **kwargs: Any) -> Job:
        """Enqueue a job that runs no earlier than ``interval`` from now (seconds or timedelta).

        It waits with status ``scheduled`` until due (the worker processes' promoter queues it
        then); an interval of 0 queues it at once.
        """
        return self._later(placement(due_after(interval)), args, kwargs)

    def perform_at(self, when: Any, *args: Any, **kwargs: Any) -> Job:
        """Enqueue a job that runs no earlier than ``when`` (a datetime; naive means UTC)."""
        return self._later(placement(as_utc(when)), args, kwargs)

    async def aperform_in(self, interval: Any, *args: Any, **kwargs: Any) -> Job:
        """The awaitable twin of :meth:`perform_in`."""
        return await self._alater(placement(due_after(interval)), args, kwargs)

    async def aperform_at(self, when: Any, *args: Any, **kwargs: Any) -> Job:
        """The awaitable twin of :meth:`perform_at`."""
        return await self._alater(placement(as_utc(when)), args, kwargs)

    def _later(self, timing: dict[str, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Job:
        client = self.worker_class._app().client
        return client.enqueue(
            self.worker_class,
            args,
            kwargs,
            connection=self._connection,
            **self._options,
            **timing,
        )

    async def _alater(
        self, timing: dict[str, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Job:
        client = self.worker_class._app().aclient
        return await client.enqueue(
            self.worker_class,
            args,
            kwargs,
            connection=self._connection,
            **self._options,
            **timing,
        )
