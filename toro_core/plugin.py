"""The plugin API: everything a toro plugin may use, beyond what :mod:`toro_core` offers users.

A plugin imports from ``toro_core`` (``Worker``, ``Job``, ``Execution``, ``Outcome``,
``Status``, ``MigrationSource``, ``hookimpl``, the errors) and from this module, nothing else of
the kernel; a test keeps every plugin in this repository to that. A plugin is a module (or an
object) of hook implementations, found through the entry point group ``toro``::

    # pyproject.toml
    [project.entry-points.toro]
    my_plugin = "my_plugin.plugin"

    # my_plugin/plugin.py
    from toro_core import hookimpl
    from toro_core.plugin import TRANSIENT, ProcessContext, Retry, Store, load_queries

    Q = load_queries("my_plugin")            # my_plugin/queries.sql, named blocks

    @hookimpl
    def worker_services(context: ProcessContext):
        async def sweep():
            store = Store(context.pool)
            retry = Retry("sweeping", log)
            while not context.stopping.is_set():
                try:
                    await store.execute(Q["sweep"])
                except TRANSIENT as exc:
                    await retry.pause(exc, until=context.stopping)
                    continue
                retry.succeeded()
                ...
        return [sweep]

What is here, by use:

* running in a worker process: :class:`ProcessContext` (``worker_services``' argument and every
  attempt's ``execution.process``), its live numbers :class:`ProcessStats`
  (``context.stats``), :class:`WorkerSettings`; :func:`run_worker` runs a worker process as
  ``toro-core start`` does, for a framework's own command (toro-django's
  ``manage.py toro_worker``);
* the database: :class:`Store` / :class:`SyncStore` for a plugin's own statements,
  :class:`CoreStore` for the kernel's operations, :func:`load_queries`, :func:`connect` /
  :func:`aconnect`, :func:`describe_conninfo`; :class:`Connections` (``app.connections``:
  the URL, and what PgBouncer in transaction mode forbids; its ``connect()`` / ``aconnect()``
  open connections as toro does, ``kwargs`` are for a plugin's own pool); driver errors arrive as
  :class:`~toro_core.errors.DatabaseUnavailable`, :class:`~toro_core.errors.StatementError` and
  :class:`~toro_core.errors.SchemaMissing`;
* through outages: :class:`Retry`, :func:`until_done`, :data:`TRANSIENT`;
* jobs: :func:`app_of`, :func:`job_params` (check and encode a job without inserting it),
  :func:`worker_classes`, :func:`error_properties`; :func:`current_execution` (the attempt
  running in this task or job thread, for an API a job calls, with ``execution.state`` for the
  plugin's per-attempt state: no middleware around every attempt needed);
* JSON: :func:`dumps`, :func:`check_json`, :func:`encode_args`;
* log lines: :func:`printable` (job data with control characters escaped, cut to a length),
  :func:`safe_str` (``str()`` of an exception whose ``__str__`` may raise);
* time: :func:`utcnow`, :func:`as_utc`, :func:`interval_seconds`;
* the command line (``cli_commands``): :func:`common_options`, :func:`env_list`,
  :func:`import_modules`, :func:`add_retention_options` and :func:`retention_of` (the
  ``--keep-*`` options of ``toro-core start``, for a command that runs a worker); options of
  ``toro-core start`` (``start_options``): :class:`StartOptions`;
* a server to try things on: :func:`start_embedded_server`, :func:`embedded_data_dir`
  (``toro-core[embedded]``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from toro_core.catalog import loaded as worker_classes
from toro_core.cli.options import (
    add_retention_options,
    common_options,
    env_list,
    import_modules,
    retention_of,
)
from toro_core.cli.start import StartOptions
from toro_core.client import job_params
from toro_core.connections import Connections
from toro_core.current import current_execution
from toro_core.embedded import default_data_dir as embedded_data_dir
from toro_core.embedded import start as start_embedded_server
from toro_core.encoding import check_json, dumps, encode_args
from toro_core.printable import printable, safe_str
from toro_core.runtime.context import ProcessContext
from toro_core.runtime.executor import error_properties
from toro_core.runtime.retry import TRANSIENT, Retry, until_done
from toro_core.runtime.run import run_worker
from toro_core.runtime.stats import ProcessStats
from toro_core.settings import WorkerSettings
from toro_core.store import (
    CoreStore,
    CoreSyncStore,
    Store,
    SyncStore,
    aconnect,
    connect,
    describe_conninfo,
    fetch_all,
    load_queries,
)
from toro_core.timing import as_utc, interval_seconds, utcnow

if TYPE_CHECKING:
    from toro_core.app import Toro
    from toro_core.worker import Worker


def app_of(worker_class: type[Worker]) -> Toro:
    """The app ``worker_class`` enqueues with: its ``toro_app``, else the process default."""
    return worker_class._app()


__all__ = [
    "TRANSIENT",
    "Connections",
    "CoreStore",
    "CoreSyncStore",
    "ProcessContext",
    "ProcessStats",
    "Retry",
    "StartOptions",
    "Store",
    "SyncStore",
    "WorkerSettings",
    "aconnect",
    "add_retention_options",
    "app_of",
    "as_utc",
    "check_json",
    "common_options",
    "connect",
    "current_execution",
    "describe_conninfo",
    "dumps",
    "embedded_data_dir",
    "encode_args",
    "env_list",
    "error_properties",
    "fetch_all",
    "import_modules",
    "interval_seconds",
    "job_params",
    "load_queries",
    "printable",
    "retention_of",
    "run_worker",
    "safe_str",
    "start_embedded_server",
    "until_done",
    "utcnow",
    "worker_classes",
]
