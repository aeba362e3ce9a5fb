"""Django's database connection as toro needs it: the psycopg connection under it (enqueue,
results) and a conninfo for the worker's own pools."""

from __future__ import annotations

from typing import Any

import psycopg
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from psycopg.conninfo import make_conninfo

#: Keys of Django's connection parameters that are psycopg arguments, not libpq options.
_NOT_LIBPQ = frozenset({"cursor_factory", "context", "prepare_threshold", "autocommit"})


def psycopg_connection(alias: str) -> psycopg.Connection[Any]:
    """The psycopg connection of Django's database ``alias`` in this thread, connected, in
    whatever transaction Django has open on it (``transaction.atomic``)."""
    wrapper = connections[alias]
    if wrapper.vendor != "postgresql":
        raise ImproperlyConfigured(
            f"toro_django: database {alias!r} is {wrapper.vendor}; toro needs PostgreSQL"
        )
    wrapper.ensure_connection()
    wrapper.validate_no_broken_transaction()  # as Django's own cursors do
    raw = wrapper.connection
    if not isinstance(raw, psycopg.Connection):
        raise ImproperlyConfigured(
            f"toro_django: database {alias!r} uses {type(raw).__module__}; toro enqueues on "
            "Django's connection and needs the psycopg 3 driver (pip install 'psycopg[binary]')"
        )
    return raw


def conninfo(alias: str) -> str:
    """A libpq conninfo for Django's database ``alias`` (what the worker's pools connect to):
    the same parameters Django connects with."""
    wrapper = connections[alias]
    params = wrapper.get_connection_params()
    valid = {option.keyword.decode() for option in psycopg.pq.Conninfo.get_defaults()}
    kept = {
        key: str(value)
        for key, value in params.items()
        if key not in _NOT_LIBPQ and key in valid and value is not None and value != ""
    }
    return make_conninfo("", **kept)
