"""How toro connects: straight to PostgreSQL, or through PgBouncer in transaction pooling mode.

Behind a pooler in transaction mode (PgBouncer's ``pool_mode = transaction``; Debian's 1.18 has
no support for protocol-level prepared statements) a client connection is lent a server
connection for one transaction at a time, so nothing may outlive a transaction. With
``pgbouncer="transaction"`` (``TORO_PGBOUNCER=transaction``, ``--pgbouncer transaction``):

* every connection toro opens has psycopg's ``prepare_threshold=None``: no server-side
  prepared statements (another client would meet them, or miss them);
* no session ``SET``: claims and outcomes turn ``synchronous_commit`` off for their own
  transaction inside their statement (``set_config(..., true)``, no extra round trip), and
  the monitor's ``statement_timeout`` is a ``SET LOCAL`` in a transaction around each use;
* advisory locks are transaction-level ones (``pg_advisory_xact_lock``), as they are anyway;
* LISTEN, which needs a session, goes to :attr:`Connections.listen_url`
  (``TORO_LISTEN_DATABASE_URL``, a direct connection to PostgreSQL) when one is given; without
  it nothing listens: workers find new jobs by polling (``poll_interval``, 1 s by default) and
  ``app.wait`` reads the job's row every :data:`WAIT_POLL` seconds.

A direct connection (the default, ``off``) and PgBouncer in session mode (``session``) keep
sessions, so toro uses them as it always does: prepared statements, one ``SET`` per pooled
connection, LISTEN on the database URL.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import psycopg

from toro_core.errors import ConfigurationError
from toro_core.settings import database_url
from toro_core.store import aconnect, connect

PGBOUNCER_ENV = "TORO_PGBOUNCER"
LISTEN_ENV = "TORO_LISTEN_DATABASE_URL"
#: The values of ``pgbouncer``: no pooler (or one that keeps sessions), or transaction pooling.
MODES = ("off", "session", "transaction")
#: Seconds between two reads of a job's row by ``app.wait`` when nothing can LISTEN.
WAIT_POLL = 0.1


def pgbouncer_mode(explicit: str | None = None) -> str:
    """The pool mode toro is behind: ``explicit``, else ``$TORO_PGBOUNCER``, else ``off``; a
    :class:`~toro_core.errors.ConfigurationError` for a value not in :data:`MODES`."""
    given = explicit if explicit is not None else os.environ.get(PGBOUNCER_ENV, "")
    value = given.strip().lower() or "off"
    if value not in MODES:
        raise ConfigurationError(
            f"{PGBOUNCER_ENV} / pgbouncer must be one of {', '.join(MODES)} (got {given!r}): "
            "'transaction' when PgBouncer's pool_mode is transaction"
        )
    return value


@dataclasses.dataclass(frozen=True, slots=True)
class Connections:
    """Where an app's connections go and how they are made (see the module docstring)."""

    #: The database URL (or libpq conninfo) every statement goes to.
    url: str
    #: PgBouncer's pool mode between toro and PostgreSQL: ``off``, ``session`` or
    #: ``transaction``.
    pgbouncer: str = "off"
    #: A direct URL for LISTEN behind a transaction pooler; ``None``: the database URL when it
    #: keeps sessions, else nothing listens and toro polls.
    listen_url: str | None = None

    @classmethod
    def resolve(
        cls, url: str | None = None, pgbouncer: str | None = None, listen_url: str | None = None
    ) -> Connections:
        """Each value given, else its ``TORO_*`` variable (``TORO_DATABASE_URL``,
        ``TORO_PGBOUNCER``, ``TORO_LISTEN_DATABASE_URL``); errors name what is wrong."""
        listen = listen_url if listen_url is not None else os.environ.get(LISTEN_ENV)
        return cls(database_url(url), pgbouncer_mode(pgbouncer), listen or None)

    @property
    def transaction_pooled(self) -> bool:
        """Whether a server connection is lent for one transaction only (no session state)."""
        return self.pgbouncer == "transaction"

    @property
    def kwargs(self) -> dict[str, Any]:
        """psycopg keyword arguments every connection of toro's takes (pools pass them in
        ``kwargs``): ``prepare_threshold=None`` behind a transaction pooler, else nothing."""
        return {"prepare_threshold": None} if self.transaction_pooled else {}

    @property
    def listen(self) -> str | None:
        """Where LISTEN connects: :attr:`listen_url`, else :attr:`url` when sessions are kept;
        ``None`` when nothing can listen (transaction pooling and no listen URL): poll."""
        if self.listen_url is not None:
            return self.listen_url
        return None if self.transaction_pooled else self.url

    def connect(self, **kwargs: Any) -> psycopg.Connection[Any]:
        """A connection of its own to :attr:`url`: autocommit, dict rows, :attr:`kwargs`; a
        failure is ``DatabaseUnavailable``."""
        return connect(self.url, **{**self.kwargs, **kwargs})

    async def aconnect(self, **kwargs: Any) -> psycopg.AsyncConnection[Any]:
        """The async twin of :meth:`connect`."""
        return await aconnect(self.url, **{**self.kwargs, **kwargs})
