"""toro's storage layer: every statement the kernel runs, and the base plugins' stores share.

* :mod:`.queries`: named SQL blocks in ``.sql`` files (``load_queries``);
* :mod:`.errors`: the one place driver errors become toro errors;
* :mod:`.base`: :class:`Store` and :class:`SyncStore`, which run statements on a pool or on a
  caller's connection;
* :mod:`.core`: :class:`CoreStore`, the kernel's typed operations on its own tables (with the
  worker's upkeep ones from :mod:`.upkeep`); :mod:`.sync`: :class:`CoreSyncStore`, their sync
  twins; :mod:`.records` and :mod:`.inserts`: what they take and give back.
"""

from toro_core.store.base import Store, SyncStore, aconnect, connect, fetch_all
from toro_core.store.core import CoreStore
from toro_core.store.errors import describe_conninfo, first_line, translated
from toro_core.store.queries import load_queries, parse_queries, query
from toro_core.store.records import PendingOutcome, PruneBatch, PruneCursor, Recovery
from toro_core.store.sync import CoreSyncStore

__all__ = [
    "CoreStore",
    "CoreSyncStore",
    "PendingOutcome",
    "PruneBatch",
    "PruneCursor",
    "Recovery",
    "Store",
    "SyncStore",
    "aconnect",
    "connect",
    "describe_conninfo",
    "fetch_all",
    "first_line",
    "load_queries",
    "parse_queries",
    "query",
    "translated",
]
