"""One error hierarchy for toro.

Every error's docstring is its default message. Driver errors (psycopg) are re-raised as
these domain errors only at the store boundary, with the original kept as ``__cause__``.
"""

from __future__ import annotations


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
    """The job was cancelled while it ran (what middleware sees; the job ends `cancelled`)."""


class PluginError(ToroError):
    """A plugin could not be loaded or broke the hook contract."""
