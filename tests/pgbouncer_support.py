"""A PgBouncer of the tests' own, in transaction pooling mode, in front of the test server.

:class:`PgBouncer` writes an ini file into a temporary folder, starts Debian's
``/usr/sbin/pgbouncer`` on a free port of 127.0.0.1 (no Unix socket) and stops it. Its pools
are small (``default_pool_size = 3`` per database and user), so clients really share server
connections and a session-state bug shows. PgBouncer refuses to run as root: as root, the ini
names a user to switch to (``postgres``, else ``nobody``) and the folder is given to it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

BINARY = "/usr/sbin/pgbouncer"
#: Server connections per database and user: small, so that clients share them.
POOL_SIZE = 3


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _quoted(value: str) -> str:
    """A value of a libpq-style ``[databases]`` entry."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@contextlib.contextmanager
def running(server_url: str) -> Iterator[PgBouncer]:
    """A started :class:`PgBouncer` for the block; the test is skipped, saying why, when
    PgBouncer is not installed."""
    import pytest

    if not os.path.exists(BINARY):
        pytest.skip(f"PgBouncer is not installed ({BINARY}; apt-get install pgbouncer)")
    started = PgBouncer(server_url).start()
    try:
        yield started
    finally:
        started.close()


class PgBouncer:
    """One pgbouncer process in front of the server of ``server_url`` (see the module)."""

    def __init__(self, server_url: str) -> None:
        self.server = conninfo_to_dict(server_url)
        self.folder = Path(tempfile.mkdtemp(prefix="toro-pgbouncer-"))
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.folder / "pgbouncer.log"

    def url(self, conninfo: str) -> str:
        """``conninfo`` (a database of the test server) as reached through this pgbouncer."""
        parts = conninfo_to_dict(conninfo)
        parts.update(host="127.0.0.1", port=str(self.port))
        parts.pop("password", None)  # pgbouncer trusts its clients and logs in with its own
        return make_conninfo("", **parts)

    def _ini(self) -> str:
        target = {
            key: str(self.server[key])
            for key in ("host", "port", "user", "password")
            if self.server.get(key)
        }
        entry = " ".join(f"{key}={_quoted(value)}" for key, value in target.items())
        user = str(self.server.get("user") or "postgres")
        password = str(self.server.get("password") or "")
        (self.folder / "users.txt").write_text(f'"{user}" "{password}"\n')
        lines = [
            "[databases]",
            f"* = {entry}",
            "[pgbouncer]",
            "listen_addr = 127.0.0.1",
            f"listen_port = {self.port}",
            "unix_socket_dir =",
            "auth_type = trust",
            f"auth_file = {self.folder / 'users.txt'}",
            "pool_mode = transaction",
            f"default_pool_size = {POOL_SIZE}",
            "max_client_conn = 500",
            f"logfile = {self.log_path}",
            f"pidfile = {self.folder / 'pgbouncer.pid'}",
        ]
        if os.geteuid() == 0:
            lines.append(f"user = {self._unprivileged_user()}")
        return "\n".join(lines) + "\n"

    def _unprivileged_user(self) -> str:
        """The user a root-started pgbouncer switches to; it gets the folder."""
        for name in ("postgres", "nobody"):
            with contextlib.suppress(KeyError):
                entry = pwd.getpwnam(name)
                os.chown(self.folder, entry.pw_uid, entry.pw_gid)
                return name
        raise RuntimeError("running as root and no postgres or nobody user to run pgbouncer as")

    def start(self, attempts: int = 3) -> PgBouncer:
        """Start it on a free port (another port when one was taken meanwhile)."""
        for _ in range(attempts):
            self.port = _free_port()
            ini = self.folder / "pgbouncer.ini"
            ini.write_text(self._ini())
            ini.chmod(0o644)
            self.process = subprocess.Popen(
                [BINARY, str(ini)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
            )
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.process.poll() is None:
                with contextlib.suppress(OSError):
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                    return self
                time.sleep(0.05)
            self.stop()
        raise RuntimeError(f"pgbouncer did not start:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        """Stop the process this object started (SIGTERM, then SIGKILL)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def server_sessions(url: str) -> list[tuple[Any, ...]]:
    """For every server connection of the pool (held at once, one transaction each): its pid,
    synchronous_commit, statement_timeout, prepared statements and channels listened to."""
    conns = [psycopg.connect(url, prepare_threshold=None) for _ in range(POOL_SIZE)]
    try:
        found = [
            conn.execute(
                "SELECT pg_backend_pid(), current_setting('synchronous_commit'),"
                " current_setting('statement_timeout'),"
                " (SELECT count(*) FROM pg_prepared_statements),"
                " (SELECT count(*) FROM pg_listening_channels())"
            ).fetchone()
            or ()
            for conn in conns
        ]
    finally:
        for conn in conns:
            conn.close()
    assert len({row[0] for row in found}) == POOL_SIZE  # every server connection was seen
    return found


def assert_clean(url: str) -> None:
    """No session state left on any server connection of the pool."""
    for _pid, commit, timeout, prepared, channels in server_sessions(url):
        assert (commit, timeout, prepared, channels) == ("on", "0", 0, 0)


@contextlib.contextmanager
def explained(*workers: Any) -> Iterator[None]:
    """Any failure inside the block comes with the workers' logs (``WorkerHandle.log()``)."""
    try:
        yield
    except BaseException as exc:
        logs = "\n".join(f"--- worker {w.pid}:\n{w.log()[-4000:]}" for w in workers)
        raise AssertionError(f"{type(exc).__name__}: {exc}\n{logs}") from exc


def assert_quiet(log: str) -> None:
    """A worker's log shows none of what transaction pooling breaks."""
    for sign in ("prepared statement", "_pg3_", "TORO_PGBOUNCER", "unsupported startup"):
        assert sign not in log, log
