"""Every hook toro calls, with its contract.

Plugins implement these with ``from toro_core import hookimpl`` and are found through the entry
point group ``toro`` (or registered in code with ``Toro.register``). Hooks are grouped by when
they run. For every hook the docstring says when it is called, what each argument is, what the
return value means, and whether an implementation may be a coroutine function.

Rules that hold for all hooks:

* pluggy is synchronous. A hook documented as *may be async* may return an awaitable, which the
  caller awaits; every other hook must return a plain value.
* ``firstresult`` hooks stop at the first non-``None`` result and must be synchronous (a
  coroutine object is not ``None`` and would always win).
* Built-in behaviour is registered as ordinary ``trylast`` implementations, so any plugin's
  implementation runs before it and, for ``firstresult`` hooks, wins.
* Arguments are passed by keyword; an implementation may accept any subset of them.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from toro_core.markers import hookspec

if TYPE_CHECKING:
    import pluggy

    from toro_core.cli.start import StartOptions
    from toro_core.job import Job
    from toro_core.migrate import MigrationSource
    from toro_core.outcome import Execution, WrittenOutcome
    from toro_core.runtime.context import ProcessContext
    from toro_core.statuses import Status
    from toro_core.worker import Worker


# --------------------------------------------------------------------------------------------
# Hooks of plugins: called when the plugin manager is built
# --------------------------------------------------------------------------------------------


@hookspec(historic=True)
def add_hookspecs(pluginmanager: pluggy.PluginManager) -> None:
    """Add the hook specifications a plugin defines for other plugins to implement.

    Called once for each plugin as it is registered (a historic hook: plugins registered later
    are called too), with the app's plugin manager; call
    ``pluginmanager.add_hookspecs(my_hookspecs_module)``. toro-monitor adds ``monitor_views``
    and ``monitor_authorize`` this way, so the kernel knows nothing of a monitor. Implementers
    of such hooks mark them ``@hookimpl(optionalhook=True)``, so they load when the defining
    plugin is absent. Synchronous.
    """


# --------------------------------------------------------------------------------------------
# Schema and vocabulary: called when the schema is migrated and when a Toro app is built
# --------------------------------------------------------------------------------------------


@hookspec
def migrations() -> MigrationSource | Iterable[MigrationSource] | None:
    """Return the migrations a plugin owns.

    Called by ``toro-core migrate`` (and ``toro-core migrate --sql``). A
    :class:`~toro_core.migrate.MigrationSource` names an owner (unique per plugin) and a package
    whose ``NNNN_description.sql`` files are applied in number order, once each, forward only.
    Synchronous.
    """


@hookspec
def statuses() -> Iterable[Status] | None:
    """Return the job statuses a plugin adds (:class:`~toro_core.statuses.Status`).

    Called once when a :class:`~toro_core.app.Toro` app builds its status registry. Each status
    has a label and a colour for the monitor, and ``final`` tells whether a job in it is done.
    Two plugins returning the same name is an error that names both. Synchronous.
    """


@hookspec
def worker_options() -> dict[str, str] | None:
    """Return the worker class attributes a plugin understands: ``{name: description}``.

    Called once per app, the first time a worker class is checked. A ``Worker`` subclass may
    set only options some plugin declares (the kernel declares ``queue`` and ``timeout``); any
    other public data attribute is reported as a misspelt option. Synchronous.
    """


@hookspec
def check_worker(worker_class: type[Worker]) -> None:
    """Check the option values of a worker class; raise to refuse it.

    Called once per class and app, at its first enqueue and when a worker process first loads
    it, after the option names were checked against ``worker_options``. Raise ``TypeError`` or
    ``ValueError`` (or a ``ToroError``) naming the class and the option; the enqueue then fails
    before anything is written, and a worker process fails the job with that reason.
    Synchronous.
    """


# --------------------------------------------------------------------------------------------
# Enqueue: called in the process that inserts jobs
# --------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def job_name(worker_class: type[Worker], args: Sequence[Any], kwargs: dict[str, Any]) -> str | None:
    """Return the display name stored in the job's ``name`` column.

    Called once per job at enqueue, with the worker class and the positional and keyword
    arguments of ``perform``. The first non-``None`` result wins; the built-in implementation
    calls the worker's ``job_name`` classmethod when it defines one. Synchronous
    (``firstresult``).
    """


@hookspec
def job_headers(worker_class: type[Worker]) -> dict[str, str] | None:
    """Return headers to store with the jobs being enqueued, or ``None``.

    Called once per enqueue call (a bulk enqueue gets one call, and its headers go on every job
    of the call), before the insert, in the enqueuing code's context: a tracing plugin puts the
    current trace context here (W3C ``traceparent``), and the worker reads it back from
    ``execution.job.headers``. The results are merged into one JSON object stored in the job's
    ``headers`` column (when two plugins set the same key, the first registered one wins);
    values must be strings. When no plugin implements this hook the kernel does not call it and
    stores nothing (``NULL``). Synchronous.
    """


@hookspec
def job_enqueued(jobs: Sequence[Job]) -> None:
    """Observe jobs just inserted (one call per enqueue call, bulk included).

    Called after the INSERT returned, before the caller's transaction commits when the caller
    passed its own connection, so a job seen here may still be rolled back. Synchronous.
    """


# --------------------------------------------------------------------------------------------
# Running jobs: called inside the worker process
# --------------------------------------------------------------------------------------------


@hookspec
def job_middleware(worker_class: type[Worker]) -> Any:
    """Return this plugin's middleware for jobs of ``worker_class``, or ``None`` when it has
    nothing to do for that class (then it costs its jobs nothing).

    Called once per worker class in each process, when the class's first job runs; the answer
    is kept. The middleware is a callable taking the attempt's
    :class:`~toro_core.outcome.Execution` and returning an async context manager, with the
    powers of an :func:`around_job` manager (it sees the exception, may set
    ``execution.outcome``, reads ``execution.result``, adds to ``execution.properties``).
    Managers of this hook are entered before those of ``around_job``, the first registered
    plugin's outermost. Prefer it to ``around_job``: the decision is made once, not per job.
    Synchronous.
    """


@hookspec
def around_job(execution: Execution) -> Any:
    """Return an async context manager to run around one attempt of a job, or ``None``.

    Called once per attempt before ``perform``; the managers are entered in the order the
    results come (the first registered plugin's outermost) and exited in reverse. A manager
    sees ``perform``'s exception at its ``yield`` and may re-raise it (the job fails), swallow it
    (the job completes), or set ``execution.outcome`` to choose the next status itself. After the
    ``yield`` it may read ``execution.result`` and add to ``execution.properties``. A zero-
    argument callable that returns such a manager is accepted too. Synchronous: the *manager*
    is asynchronous, the hook call is not.
    """


@hookspec
def job_started(execution: Execution) -> Any:
    """Observe the start of an attempt, before middleware is entered. May be async."""


@hookspec
def job_failed(execution: Execution, error: Exception) -> Any:
    """React to an attempt whose ``perform`` raised ``error``, after every middleware exited and
    before the kernel decides the outcome. May be async.

    Called only for a failure: not for a return, a :class:`~toro_core.outcome.Snooze`, a
    cancel or a stop (:class:`~toro_core.errors.JobCancelled`), nor for an exception a
    middleware swallowed; a :class:`~toro_core.errors.JobTimeout` is a failure. An
    implementation may set ``execution.outcome`` (toro-retry schedules the next try) unless
    it is set already (a middleware or an earlier plugin chose), and add to
    ``execution.properties``. Prefer it to a middleware that only looks at failures: attempts
    that succeed never pay for it. An implementation that raises is logged and ignored.
    """


@hookspec
def job_finished(execution: Execution) -> Any:
    """Observe the end of an attempt, once its outcome is decided and before it is written.

    ``execution.outcome`` holds the decided :class:`~toro_core.outcome.Outcome`. May be async.
    """


@hookspec
def outcomes_written(context: ProcessContext, outcomes: Sequence[WrittenOutcome]) -> None:
    """Observe outcomes that a worker process has just written: called once per batch
    committed (one call for up to ``flush_size`` jobs), on the process's event loop, with the
    outcomes the database accepted. An outcome refused because another process took the job
    over (after a missed heartbeat) is not in it; one lost with its process (``kill -9``)
    never is, and the job's next attempt will be. Count here what must agree with the table
    (toro-metrics' per-minute rollup does): ``job_finished`` runs per attempt, before the
    write. Synchronous, and it must not block (no I/O): an ``async def`` implementation is
    never awaited, and logged as an error; one that raises is logged and ignored. ``context``
    is the process's, as ``worker_services`` got it.
    """


@hookspec
def worker_services(context: ProcessContext) -> Iterable[Any] | None:
    """Return background services to run inside each worker process.

    Called once when a worker process starts, before it claims. Each service is a coroutine
    function taking no arguments; it runs in the process's task group until the process stops
    (it is cancelled then, and should return soon after ``context.stopping`` is set). It uses
    ``context`` (:class:`~toro_core.plugin.ProcessContext`: the app, the settings, the pool,
    the kernel's store, the process's registry id). State the plugin's middleware needs goes in
    ``context.state[<plugin name>]``; each attempt's ``execution.process`` is this context.
    The scheduler plugin enqueues periodic jobs this way. Called before the process registers,
    so raising (a :class:`~toro_core.errors.ToroError` naming the problem) refuses to start the
    process, with nothing to undo. Synchronous.
    """


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


@hookspec
def start_options(options: StartOptions) -> None:
    """Add options to ``toro-core start``.

    Called when the CLI parser is built, with a :class:`~toro_core.plugin.StartOptions`; call
    ``options.add("--metrics-port", type=port, help="...")``. Every such option also reads its
    ``TORO_*`` variable (``$TORO_METRICS_PORT``), and its value reaches the worker process as
    ``context.settings.plugin_options["metrics_port"]`` (an embedded worker passes
    ``plugin_options={...}`` to ``app.worker`` itself). A flag another option has is an error
    naming it. Synchronous.
    """


@hookspec
def cli_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add subcommands to ``toro-core``.

    Called when the CLI parser is built. Add a parser with ``subparsers.add_parser(...)`` and
    set its ``handler`` default to a function ``handler(args, app) -> int`` (the exit code);
    ``args.database_url`` and the common options are already defined. Synchronous.
    """
