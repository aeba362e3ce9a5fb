"""One error hierarchy for toro.

Every error's docstring is its default message. Driver errors (psycopg) are re-raised as
these domain errors only at the store boundary, with the original kept as ``__cause__``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from toro_core.job import Job


class ToroError(Exception):
    """A toro operation failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class ConfigurationError(ToroError):
    """toro is not configured: no database URL was given."""


class DatabaseUnavailable(ToroError):
    """The PostgreSQL server could not be reached.

    Raised for connection failures, broken connections, pool timeouts and cancelled
    statements: what waiting and trying again can cure. Loops that talk to the database back
    off and retry on this error (see :class:`toro_core.plugin.Retry`).
    """


class StatementError(ToroError):
    """The database refused a statement (a constraint, a cast, a missing table...).

    Trying again will not help. ``sqlstate`` holds PostgreSQL's error code when there is one.
    """

    def __init__(self, message: str | None = None, *, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class SchemaMissing(StatementError):
    """The toro tables do not exist yet: run `toro-core migrate`."""


class UnknownOptionError(ToroError, TypeError):
    """A worker class sets an option that no installed plugin understands."""


class UnknownWorkerError(ToroError):
    """A job names a worker class that is not loaded in this process."""


class UnknownStatusError(ToroError, ValueError):
    """A status was used that no plugin registered through the `statuses` hook."""


class DuplicateStatusError(ToroError):
    """Two plugins register the same status name."""


class JobTimeout(ToroError, TimeoutError):
    """The job ran longer than its worker's `timeout`."""


class JobCancelled(ToroError):
    """The job was cancelled while it ran (what middleware sees; the job ends `cancelled`).

    ``app.wait`` raises it too, for a job that ended cancelled; ``job`` is then the job."""

    #: The cancelled job, when raised by ``app.wait`` (else ``None``).
    job: Job | None = None


class JobFailed(ToroError):
    """The job failed.

    Raised by ``app.wait`` for a job that ended ``failed`` (or in another final status that is
    not ``complete``): ``job`` is the job as it ended, ``error_class``, ``error_message`` and
    ``backtrace`` the error its last attempt recorded (``None`` when it recorded none).
    """

    def __init__(self, job: Job) -> None:
        properties = job.properties
        self.job = job
        self.error_class: str | None = _text(properties.get("error:class"))
        self.error_message: str | None = _text(properties.get("error:message"))
        self.backtrace: str | None = _text(properties.get("error:backtrace"))
        what = f"job {job.id} ({job.class_name}) ended {job.status}"
        detail = ": ".join(part for part in (self.error_class, self.error_message) if part)
        if detail:
            what += f": {detail}"
        super().__init__(what)


class JobWaitTimeout(ToroError, TimeoutError):
    """Waiting for the job's outcome took longer than the timeout; ``job`` is the job as it
    was last read (still waiting or running)."""

    def __init__(self, message: str, job: Job) -> None:
        super().__init__(message)
        self.job = job


def _text(value: object) -> str | None:
    return None if value is None else str(value)


class PluginError(ToroError):
    """A plugin could not be loaded or broke the hook contract."""


class JobUndecodable(ToroError):
    """The job's row holds arguments or properties no worker can read (nested too deep, an
    integer too long); it fails without running."""


class JobExited(ToroError):
    """The job raised SystemExit or KeyboardInterrupt (``sys.exit()``); it fails, and the worker
    process goes on."""


class WorkerDied(ToroError):
    """The job's worker process died while running it too many times (a crash, a kill, the OOM
    killer); it is not run again. See ``toro-core start --max-recoveries``."""
