"""The :class:`Toro` app: settings, the plugin manager and a typed facade over the hooks.

An application normally uses the process default (:func:`default_app`), configured by
``TORO_DATABASE_URL`` or :func:`configure`. Tests and embedding code build their own ``Toro``
with exactly the plugins they want.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

import pluggy

from toro_core import settings
from toro_core.client import AsyncClient, Client
from toro_core.connections import Connections, pgbouncer_mode
from toro_core.hookcalls import HookCalls
from toro_core.job import Job
from toro_core.limits import LimitSpec, spec_of
from toro_core.migrate import Migration, MigrationSource, discover
from toro_core.plugins import build_plugin_manager, plugin_name
from toro_core.statuses import Status, StatusRegistry
from toro_core.worker import check_options

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager, AbstractContextManager

    from toro_core.runtime import WorkerProcess
    from toro_core.worker import Worker


class Toro(HookCalls):
    """One configured toro: where the database is and which plugins are active.

    ``pgbouncer="transaction"`` (else ``$TORO_PGBOUNCER``) is for a database reached through
    PgBouncer in transaction pooling mode, ``listen_database_url`` (else
    ``$TORO_LISTEN_DATABASE_URL``) a direct URL for LISTEN there (:mod:`toro_core.connections`).
    """

    def __init__(
        self,
        database_url: str | None = None,
        *,
        plugins: Iterable[object] = (),
        load_entry_points: bool = True,
        pgbouncer: str | None = None,
        listen_database_url: str | None = None,
    ) -> None:
        self._database_url = database_url
        self._pgbouncer = None if pgbouncer is None else pgbouncer_mode(pgbouncer)
        self._listen_url = listen_database_url
        self.plugin_manager: pluggy.PluginManager = build_plugin_manager(
            load_entry_points=load_entry_points, plugins=plugins
        )
        self.client = Client(self)
        self.aclient = AsyncClient(self)
        #: Tests: run each job at once in the enqueuing process (see toro_core.testing.inline).
        self.inline = False
        self._checked: dict[type, LimitSpec] = {}

    # ------------------------------------------------------------ configuration

    @property
    def database_url(self) -> str:
        """The conninfo: given at construction, else ``$TORO_DATABASE_URL``."""
        return settings.database_url(self._database_url)

    @database_url.setter
    def database_url(self, url: str) -> None:
        self._database_url = url
        self.close()  # the sync pool, if open, pointed at the old database

    @property
    def connections(self) -> Connections:
        """How this app connects: its database URL, PgBouncer's pool mode (``pgbouncer=``,
        else ``$TORO_PGBOUNCER``) and where LISTEN goes (``listen_database_url=``, else
        ``$TORO_LISTEN_DATABASE_URL``); see :mod:`toro_core.connections`."""
        return Connections.resolve(self._database_url, self._pgbouncer, self._listen_url)

    def use_pgbouncer(self, mode: str | None, listen_database_url: str | None = None) -> None:
        """Set the pool mode and listen URL (``None``: their ``TORO_*`` variables) as the
        constructor does; open pools close, the next use opens them again."""
        self._pgbouncer = None if mode is None else pgbouncer_mode(mode)
        self._listen_url = listen_database_url
        self.close()

    def migrate(self) -> list[Migration]:
        """Apply the migrations of the kernel and of this app's plugins that are not applied
        yet (what ``toro-core migrate`` does); return those applied now."""
        from toro_core.migrate import apply

        return apply(self.connections, self.migrations())

    def background_worker(self, **options: Any) -> AbstractContextManager[WorkerProcess]:
        """The sync twin of :meth:`worker`, for WSGI apps and scripts: a worker in a thread of
        its own for the duration of a ``with`` block (stopped gracefully at its end)."""
        from toro_core.runtime import threaded_worker
        from toro_core.settings import WorkerSettings

        if "queues" in options:
            options["queues"] = tuple(options["queues"])
        return threaded_worker(self, WorkerSettings(**options))

    def worker(
        self, *, signals: bool = False, **options: Any
    ) -> AbstractAsyncContextManager[WorkerProcess]:
        """Run a worker in the current event loop for the duration of an ``async with`` block.

        ``options`` are :class:`~toro_core.settings.WorkerSettings` fields (``concurrency``,
        ``queues``, ``shutdown_timeout``...). No signal handlers are installed unless
        ``signals`` is true (then SIGTERM and SIGINT stop it as they stop ``toro-core start``);
        the block's end stops the worker gracefully. For a FastAPI or Litestar lifespan::

            async with app.worker(concurrency=10, queues=["default"]):
                yield
        """
        from toro_core.runtime import embedded_worker
        from toro_core.settings import WorkerSettings

        for name in ("queues", "allow_import"):
            if name in options and not isinstance(options[name], str):
                options[name] = tuple(options[name])
        return embedded_worker(self, WorkerSettings(**options), signals=signals)

    def register(self, plugin: object, name: str | None = None) -> None:
        """Add a plugin object (an application's own middleware) to this app."""
        self.plugin_manager.register(plugin, name=name)
        self.plugin_manager.check_pending()
        self._reset()

    def unregister(self, plugin: object) -> None:
        """Remove a plugin registered with :meth:`register`."""
        self.plugin_manager.unregister(plugin)
        self._reset()

    def _reset(self) -> None:
        self._checked.clear()
        for cached in ("statuses", "worker_options", "_has_impls", "_namers", "_lifecycle_calls"):
            self.__dict__.pop(cached, None)

    def close(self) -> None:
        """Close the sync client's pool (async pools close with :meth:`aclose`)."""
        self.client.close()

    async def aclose(self) -> None:
        await self.aclient.close()
        self.client.close()

    # ------------------------------------------------------------ job control

    def job(self, job_id: int) -> Job | None:
        """The job with this id as it is now, or ``None``."""
        return self.client.store().get_job(job_id)

    def cancel(self, *job_ids: int, by: str = "python") -> dict[int, str]:
        """Cancel jobs: a queued or scheduled one at once; a running one is stopped by the
        process that runs it within about a second (see the README). Returns, for each id
        found, ``"cancelled"``, ``"requested"`` (it was running) or the final status it already
        had; ids not found are left out. ``by`` is recorded in ``cancel:by``."""
        return self.client.store().cancel_jobs(job_ids, by)

    def retry(self, *job_ids: int, by: str = "python") -> list[int]:
        """Queue failed or cancelled jobs again; return the ids queued."""
        return self.client.store().retry_jobs(job_ids, by)

    def pause(self, queue: str, by: str = "python") -> bool:
        """Pause a queue in every process (its jobs stay queued; running ones finish);
        ``False`` when it was paused already."""
        return self.client.store().pause_queue(queue, by)

    def resume(self, queue: str) -> bool:
        """Resume a paused queue; ``False`` when it was not paused."""
        return self.client.store().resume_queue(queue)

    def wait(self, job_id: int, *, timeout: float | None = None) -> Any:
        """Wait until the job is finished and return its result (what ``perform`` returned).

        Raises :class:`~toro_core.errors.JobFailed` (carrying the job and its error) for a
        job that failed, :class:`~toro_core.errors.JobCancelled` for a cancelled one,
        :class:`~toro_core.errors.JobWaitTimeout` (a ``TimeoutError``) when ``timeout``
        seconds pass first (``None``: no limit), ``LookupError`` for an unknown id. A retried
        job is waited for through its retries. Waits by LISTEN on a connection of its own,
        not by polling, except behind PgBouncer in transaction mode without a listen URL:
        then it reads the row every 0.1 s (see :mod:`toro_core.waiting`).
        """
        from toro_core.waiting import wait

        return wait(self, job_id, timeout)

    async def await_result(self, job_id: int, *, timeout: float | None = None) -> Any:
        """The awaitable twin of :meth:`wait` (``await`` being a keyword)."""
        from toro_core.waiting import await_result

        return await await_result(self, job_id, timeout)

    async def ajob(self, job_id: int) -> Job | None:
        """The awaitable twin of :meth:`job`."""
        return await (await self.aclient.store()).get_job(job_id)

    async def acancel(self, *job_ids: int, by: str = "python") -> dict[int, str]:
        """The awaitable twin of :meth:`cancel`."""
        return await (await self.aclient.store()).cancel_jobs(job_ids, by)

    async def aretry(self, *job_ids: int, by: str = "python") -> list[int]:
        """The awaitable twin of :meth:`retry`."""
        return await (await self.aclient.store()).retry_jobs(job_ids, by)

    async def apause(self, queue: str, by: str = "python") -> bool:
        """The awaitable twin of :meth:`pause`."""
        return await (await self.aclient.store()).pause_queue(queue, by)

    async def aresume(self, queue: str) -> bool:
        """The awaitable twin of :meth:`resume`."""
        return await (await self.aclient.store()).resume_queue(queue)

    # ------------------------------------------------------------ vocabulary

    @functools.cached_property
    def statuses(self) -> StatusRegistry:
        """Every status registered through the ``statuses`` hook (core's first)."""
        contributions = []
        for impl in reversed(self.plugin_manager.hook.statuses.get_hookimpls()):
            result = cast("Iterable[Status] | None", impl.function())
            if result:
                contributions.append((plugin_name(self.plugin_manager, impl.plugin), list(result)))
        contributions.sort(key=lambda item: item[0] != "core")
        return StatusRegistry(contributions)

    @functools.cached_property
    def worker_options(self) -> dict[str, str]:
        """Every worker option that the kernel and the plugins declare."""
        options: dict[str, str] = {}
        for result in self.plugin_manager.hook.worker_options():
            options.update(result or {})
        return options

    def check_worker(self, worker_class: type[Worker]) -> LimitSpec:
        """Raise if ``worker_class`` sets an option nobody declares or a bad option value
        (checked once per class); return its limits."""
        spec = self._checked.get(worker_class)
        if spec is None:
            check_options(worker_class, self.worker_options)
            self.plugin_manager.hook.check_worker(worker_class=worker_class)
            spec = self._checked[worker_class] = spec_of(worker_class)
        return spec

    def migration_sources(self) -> list[MigrationSource]:
        sources: list[MigrationSource] = []
        for result in self.plugin_manager.hook.migrations():
            if isinstance(result, MigrationSource):
                sources.append(result)
            elif result:
                sources.extend(result)
        return sources

    def migrations(self) -> list[Migration]:
        return discover(self.migration_sources())


_default: Toro | None = None
_default_lock = threading.Lock()


def default_app() -> Toro:
    """The process-wide app used by ``Worker.perform_async`` and friends (built on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Toro()
        return _default


def configure(database_url: str | None = None, **kwargs: Any) -> Toro:
    """Replace the process default app; returns it."""
    global _default
    with _default_lock:
        old, _default = _default, Toro(database_url, **kwargs)
    if old is not None:
        old.close()
    return _default


def set_default_app(app: Toro | None) -> Toro | None:
    """Install ``app`` as the process default (``None`` clears it); returns the previous one."""
    global _default
    with _default_lock:
        old, _default = _default, app
    return old
