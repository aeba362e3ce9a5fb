"""How the monitor's connections turn column values into Python: nothing a row holds may fail.

A row written by SQL can hold what Python cannot represent: ``jsonb`` nested thousands of
levels deep, ``'infinity'`` or a year after 9999 in a ``timestamptz``, an interval of a
hundred million years. psycopg's own loaders raise on those, which would fail a whole page
for one row. :func:`configure` (run on every connection of the monitor's pool, which plugin
views also get) parses JSON with :func:`toro_monitor.jsonsafe.loads`, and loads a time or an
interval Python cannot hold as the text PostgreSQL sent (``"infinity"``), which the pages
show as it is.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import abc
from psycopg.adapt import Buffer, Loader
from psycopg.pq import Format
from psycopg.types.json import set_json_loads

from toro_monitor import jsonsafe

#: The types whose values may fall outside what Python's datetime module holds.
LENIENT_TYPES = ("timestamptz", "timestamp", "date", "interval")


def lenient_loader(type_name: str) -> type[Loader]:
    """A text loader for ``type_name`` that returns PostgreSQL's text when psycopg's own loader
    refuses the value (out of Python's range)."""
    oid = psycopg.adapters.types[type_name].oid
    found = psycopg.adapters.get_loader(oid, Format.TEXT)
    if found is None:  # pragma: no cover - psycopg always has these
        raise LookupError(f"psycopg has no text loader for {type_name}")
    inner_class: type[abc.Loader] = found

    class Lenient(Loader):
        def __init__(self, oid: int, context: Any = None) -> None:
            super().__init__(oid, context)
            self._inner = inner_class(oid, context)

        def load(self, data: Buffer) -> Any:
            try:
                return self._inner.load(data)
            except psycopg.DataError:
                return bytes(data).decode("utf-8", "replace")

    Lenient.__name__ = f"Lenient{type_name.title()}Loader"
    return Lenient


_LOADERS = {name: lenient_loader(name) for name in LENIENT_TYPES}


def configure(conn: psycopg.AsyncConnection[Any]) -> None:
    """Make ``conn`` load JSON of any depth and out-of-range times without raising."""
    set_json_loads(jsonsafe.loads, conn)
    for name, loader in _LOADERS.items():
        conn.adapters.register_loader(name, loader)
