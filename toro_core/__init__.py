"""toro: background jobs for Python on PostgreSQL.

The public face of the kernel::

    from toro_core import Worker, hookimpl

Plugins implement hooks from :mod:`toro_core.hookspecs` with ``@hookimpl``, use what
:mod:`toro_core.plugin` offers beyond this module, and register in the entry point group
``toro``::

    [project.entry-points.toro]
    my_plugin = "my_package.plugin"

    # my_package/plugin.py
    from contextlib import asynccontextmanager
    from toro_core import hookimpl

    @hookimpl
    def around_job(execution):
        @asynccontextmanager
        async def log_it():
            print("starting", execution.job.id)
            yield
            print("finished", execution.job.id)
        return log_it()
"""

from toro_core.app import Toro, configure, default_app
from toro_core.configured import Call
from toro_core.errors import (
    ConfigurationError,
    DatabaseUnavailable,
    JobCancelled,
    JobFailed,
    JobTimeout,
    JobWaitTimeout,
    SchemaMissing,
    StatementError,
    ToroError,
    UnknownOptionError,
    UnknownWorkerError,
)
from toro_core.job import Job
from toro_core.markers import hookimpl, hookspec
from toro_core.migrate import MigrationSource
from toro_core.outcome import Execution, Outcome, Snooze, WrittenOutcome
from toro_core.retention import Retention
from toro_core.statuses import Status
from toro_core.worker import Worker

__version__ = "0.1.0"

__all__ = [
    "Call",
    "ConfigurationError",
    "DatabaseUnavailable",
    "Execution",
    "Job",
    "JobCancelled",
    "JobFailed",
    "JobTimeout",
    "JobWaitTimeout",
    "MigrationSource",
    "Outcome",
    "Retention",
    "SchemaMissing",
    "Snooze",
    "StatementError",
    "Status",
    "Toro",
    "ToroError",
    "UnknownOptionError",
    "UnknownWorkerError",
    "Worker",
    "WrittenOutcome",
    "__version__",
    "configure",
    "default_app",
    "hookimpl",
    "hookspec",
]
