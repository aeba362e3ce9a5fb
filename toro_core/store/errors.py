"""The one place where psycopg's errors become toro's.

* connection failures, broken connections, pool timeouts and cancelled statements become
  :class:`~toro_core.errors.DatabaseUnavailable` (wait and try again);
* a missing table becomes :class:`~toro_core.errors.SchemaMissing` (run ``toro-core migrate``);
* any other refusal becomes :class:`~toro_core.errors.StatementError` with its ``sqlstate``.

What PgBouncer in transaction pooling mode does to a client that was not told about it (a
prepared statement another client made, or missing, on the server connection it was lent; a
startup parameter refused) gets a hint to set ``TORO_PGBOUNCER=transaction`` appended.

The driver's exception stays reachable as ``__cause__``. Every store runs its statements inside
:func:`translated`, so code above the store catches toro errors only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg
import psycopg_pool

from toro_core.errors import DatabaseUnavailable, SchemaMissing, StatementError, ToroError

#: Driver errors that mean "the database is not reachable right now", not "this is wrong".
DRIVER_TRANSIENT = (psycopg.OperationalError, psycopg_pool.PoolTimeout, OSError)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its class name when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def describe_conninfo(conninfo: str) -> str:
    """The conninfo with any password masked, for error messages and logs."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    try:
        parts = conninfo_to_dict(conninfo)
    except Exception:  # not parseable: show nothing secret
        return "<unparseable conninfo>"
    if "password" in parts:
        parts["password"] = "***"
    return make_conninfo("", **{k: v for k, v in parts.items() if v is not None})


#: Appended to errors that mean a transaction pooler is in the way of a client set up for a
#: direct connection.
PGBOUNCER_HINT = (
    " (behind PgBouncer in transaction pooling mode? set TORO_PGBOUNCER=transaction, "
    "see the README's 'Behind PgBouncer')"
)
#: psycopg names its prepared statements ``_pg3_<n>``.
_PREPARED = (psycopg.errors.DuplicatePreparedStatement, psycopg.errors.InvalidSqlStatementName)


def _pooler_hint(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, _PREPARED) and '"_pg3_' in text:
        return PGBOUNCER_HINT
    if "unsupported startup parameter" in text:
        return PGBOUNCER_HINT
    return ""


def translate(exc: BaseException, conninfo: str | None = None) -> ToroError | None:
    """The toro error for a driver error, or ``None`` when ``exc`` is not one."""
    if isinstance(exc, ToroError):
        return exc
    if isinstance(exc, DRIVER_TRANSIENT):
        where = f" at {describe_conninfo(conninfo)}" if conninfo else ""
        return DatabaseUnavailable(
            f"cannot reach PostgreSQL{where}: {first_line(exc)}{_pooler_hint(exc)}"
        )
    if isinstance(exc, psycopg.errors.UndefinedTable):
        return SchemaMissing(
            f"{first_line(exc)}: the toro tables are missing, run `toro-core migrate`",
        )
    if isinstance(exc, psycopg.Error):
        return StatementError(first_line(exc) + _pooler_hint(exc), sqlstate=exc.sqlstate)
    return None


@contextlib.contextmanager
def translated(conninfo: str | None = None) -> Iterator[None]:
    """Re-raise driver errors raised inside the block as toro errors (see the module)."""
    try:
        yield
    except (psycopg.Error, psycopg_pool.PoolTimeout, OSError) as exc:
        error = translate(exc, conninfo)
        if error is None:  # pragma: no cover - every caught type has a translation
            raise
        raise error from exc
