"""Databases for tests: URLs, the route through a test PgBouncer, one-line queries, waiting."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

SERVER_ENV = "TORO_TEST_DATABASE_URL"
PGBOUNCER_ENV = "TORO_TEST_PGBOUNCER"


def with_database(conninfo: str, dbname: str) -> str:
    """``conninfo`` pointing at another database on the same server."""
    parts = conninfo_to_dict(conninfo)
    parts["dbname"] = dbname
    return make_conninfo("", **parts)


def routed(conninfo: str) -> dict[str, str]:
    """How the fixtures' apps reach the database ``conninfo``: ``Toro`` keyword arguments,
    through the PgBouncer of ``$TORO_TEST_PGBOUNCER`` when it is set (see the module)."""
    where = os.environ.get(PGBOUNCER_ENV)
    if not where:
        return {"database_url": conninfo}
    host, _, port = where.rpartition(":")
    parts = conninfo_to_dict(conninfo)
    parts.update(host=host, port=port)
    parts.pop("password", None)  # the bouncer logs in with its own
    return {
        "database_url": make_conninfo("", **parts),
        "pgbouncer": "transaction",
        "listen_database_url": conninfo,
    }


def port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def wait_for(predicate: Callable[[], Any], timeout: float = 30, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {predicate}")
        time.sleep(interval)


def scalar(conninfo: str, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Any:
    """The first column of the first row of ``sql``."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute(sql, params).fetchone()
        return None if row is None else row[0]


def rows(
    conninfo: str, sql: str, params: Sequence[Any] | dict[str, Any] | None = None
) -> list[tuple[Any, ...]]:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()
