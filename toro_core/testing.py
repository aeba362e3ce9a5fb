"""Test helpers for applications, toro and plugin authors: an opt-in pytest plugin.

Enable it in a ``conftest.py``::

    pytest_plugins = ["toro_core.testing"]

It gives each test its own database cloned from a migrated template (fast: a file copy), an
app on it (``toro_app``, the process default while the test runs), and worker processes
started the way users start them (``start_worker``), stopped and reaped at the end.

In a test, jobs run without a worker process:

* :func:`drain` (``await adrain(...)``) runs every waiting job in the test's own process,
  through the app's plugins (middleware, retries) and outcome rules, and returns what ran;
* :func:`inline` makes ``perform_async`` run the job at once (Celery's eager mode, Oban's
  ``:inline``) and return it finished;
* :func:`assert_enqueued` / :func:`refute_enqueued` / :func:`enqueued` look at what waits.

Plugins: the apps use the installed plugins (entry points, as your application does) unless
the test says otherwise, with ``@pytest.mark.toro_plugins()`` (none), or
``@pytest.mark.toro_plugins("retry", "scheduler")`` (those entry points only); a suite can
change the default with the ini option ``toro_default_plugins = none``.

Which server: ``TORO_TEST_DATABASE_URL`` (any URL of a server whose databases the tests may
create: any host, port and user), else PostgreSQL on 127.0.0.1:5432 when something answers
there, else an embedded server started for the session (``toro-core[embedded]``). With
``TORO_TEST_PGBOUNCER=host:port``, a PgBouncer in transaction pooling mode in front of that
server, the fixtures' apps and workers go through it (``pgbouncer="transaction"``, LISTEN on
the direct URL); ``toro_db`` stays the direct URL.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from toro_core import migrate
from toro_core.app import Toro
from toro_core.job import Job
from toro_core.runtime.drain import Ran
from toro_core.worker import Worker

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


def _port_open(host: str, port: int) -> bool:
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


def run_toro(
    *args: str,
    database_url: str | None = None,
    plugins: Sequence[str] | None = None,
    env: dict[str, str] | None = None,
    paths: Sequence[str] = (),
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run ``toro-core *args`` in a subprocess as a user would; its output is text.

    The environment is this process's without any ``TORO_*`` variable, then
    ``TORO_DATABASE_URL`` when ``database_url`` is given, ``TORO_PLUGINS`` (the entry points
    to load) when ``plugins`` is, ``paths`` in front of ``PYTHONPATH`` (modules for ``-r``),
    and ``env`` last.
    """
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TORO_")}
    if database_url is not None:
        environment["TORO_DATABASE_URL"] = database_url
    if plugins is not None:
        environment["TORO_PLUGINS"] = ",".join(plugins)
    if paths:
        environment["PYTHONPATH"] = os.pathsep.join([*paths, environment.get("PYTHONPATH", "")])
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "toro_core", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class WorkerHandle:
    """A ``toro-core start`` subprocess started by a test."""

    def __init__(self, popen: subprocess.Popen[bytes], log_path: Path) -> None:
        self.popen = popen
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def signal(self, signum: int) -> None:
        self.popen.send_signal(signum)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then wait; returns the exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(timeout=timeout)

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class WorkerFactory:
    """Starts worker processes for one test; reaps them at teardown."""

    def __init__(self, conninfo: str, tmp_path: Path, paths: Sequence[str]) -> None:
        self.conninfo = conninfo
        #: ``TORO_*`` variables of how workers connect (see :func:`routed`).
        self.routes = {f"TORO_{key.upper()}": value for key, value in routed(conninfo).items()}
        self.tmp_path = tmp_path
        self.paths = list(paths)
        self.handles: list[WorkerHandle] = []

    def __call__(
        self,
        *args: str,
        plugins: Sequence[str] = (),
        env: dict[str, str] | None = None,
        wait_ready: bool = True,
    ) -> WorkerHandle:
        """Start ``toro-core start *args`` with only the entry-point ``plugins`` named."""
        environment = dict(os.environ)
        environment.update(
            self.routes,
            TORO_PLUGINS=",".join(plugins),
            PYTHONPATH=os.pathsep.join([*self.paths, environment.get("PYTHONPATH", "")]),
            PYTHONUNBUFFERED="1",
        )
        environment.pop("TORO_DISABLE_PLUGINS", None)
        environment.update(env or {})
        log_path = self.tmp_path / f"worker-{len(self.handles)}.log"
        log_file = open(log_path, "wb")
        popen = subprocess.Popen(
            [sys.executable, "-m", "toro_core", "start", *args],
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        handle = WorkerHandle(popen, log_path)
        self.handles.append(handle)
        if wait_ready:
            wait_for(
                lambda: "running: queues" in handle.log() or popen.poll() is not None, timeout=30
            )
            if popen.poll() is not None:
                raise AssertionError(f"worker exited with {popen.returncode}:\n{handle.log()}")
        return handle

    def close(self) -> None:
        for handle in self.handles:
            with contextlib.suppress(Exception):
                if handle.popen.poll() is None:
                    handle.popen.send_signal(signal.SIGCONT)
                    handle.kill()


class TcpProxy:
    """A TCP proxy on 127.0.0.1 in front of the database that a test can cut and restore.

    ``cut()`` closes every connection and refuses new ones, as a database restart or a network
    partition would; ``restore()`` lets connections through again.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        self._open = threading.Event()
        self._open.set()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self._open.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            with self._lock:
                self._sockets.discard(source)
                self._sockets.discard(sink)

    def cut(self) -> None:
        self._open.clear()
        with self._lock:
            sockets = list(self._sockets)
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def restore(self) -> None:
        self._open.set()

    def close(self) -> None:
        self._closed = True
        self.cut()
        self.listener.close()


# -------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def toro_server_url() -> Iterator[str]:
    """A conninfo for the server the tests use (see the module docstring)."""
    explicit = os.environ.get(SERVER_ENV)
    if explicit:
        yield explicit
        return
    port = int(os.environ.get("TORO_TEST_LOCAL_PORT", "5432"))  # tests of this fallback move it
    if _port_open("127.0.0.1", port):
        yield f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
        return
    from toro_core import embedded

    server = embedded.start(Path(os.environ.get("TORO_TEST_EMBEDDED_DIR", "/tmp/toro-test-pg")))
    try:
        yield server.get_uri("postgres")
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def toro_template(toro_server_url: str) -> Iterator[str]:
    """Name of a template database migrated with core's and every installed plugin's schema."""
    name = f"toro_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(toro_server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    app = Toro(with_database(toro_server_url, name))
    migrate.apply(app.database_url, app.migrations())
    try:
        yield name
    finally:
        with psycopg.connect(toro_server_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def toro_db(toro_server_url: str, toro_template: str) -> Iterator[str]:
    """A fresh migrated database for one test; its conninfo."""
    name = f"toro_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(toro_server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {toro_template}")
    try:
        yield with_database(toro_server_url, name)
    finally:
        with psycopg.connect(toro_server_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "toro_default_plugins",
        "plugins of the toro_app/make_app fixtures: 'installed' (entry points) or 'none'",
        default="installed",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "toro_plugins(*names): the entry-point plugins this test's toro apps load "
        "(none when empty); default: the ini option toro_default_plugins",
    )


def _chosen_plugins(request: pytest.FixtureRequest) -> tuple[list[object], bool]:
    """``(plugins, load_entry_points)`` for this test, from its marker or the ini default."""
    marker = request.node.get_closest_marker("toro_plugins")
    if marker is None:
        installed = request.config.getini("toro_default_plugins").strip() != "none"
        return [], installed
    from importlib.metadata import entry_points

    wanted = set(marker.args)
    found = {ep.name: ep for ep in entry_points(group="toro") if ep.name in wanted}
    missing = wanted - set(found)
    if missing:
        raise pytest.UsageError(f"toro_plugins: no installed plugin {', '.join(sorted(missing))}")
    return [found[name].load() for name in sorted(found)], False


@pytest.fixture
def make_app(toro_db: str, request: pytest.FixtureRequest) -> Iterator[Callable[..., Toro]]:
    """``make_app(plugins=[...], load_entry_points=...)``: an app on this test's database.

    By default it has the plugins the test chose (see the module docstring); ``plugins``
    registers objects besides; apps are closed at teardown.
    """
    chosen, installed = _chosen_plugins(request)
    apps: list[Toro] = []

    def factory(plugins: Sequence[object] = (), load_entry_points: bool | None = None) -> Toro:
        load = installed if load_entry_points is None else load_entry_points
        app = Toro(**routed(toro_db), plugins=[*chosen, *plugins], load_entry_points=load)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.close()


@contextlib.contextmanager
def as_default(app: Toro) -> Iterator[Toro]:
    """Make ``app`` the process default (what ``Worker.perform_async`` uses) for the block."""
    from toro_core.app import set_default_app

    previous = set_default_app(app)
    try:
        yield app
    finally:
        set_default_app(previous)


@pytest.fixture
def toro_app(make_app: Callable[..., Toro]) -> Iterator[Toro]:
    """An app on this test's database with the test's plugins; the process default."""
    with as_default(make_app()) as app:
        yield app


# -------------------------------------------------------------------------------- jobs in tests


def _app(app: Toro | None) -> Toro:
    from toro_core.app import default_app

    return app or default_app()


def drain(
    app: Toro | None = None,
    queues: Sequence[str] | None = None,
    *,
    with_scheduled: bool = False,
    max_jobs: int = 10_000,
) -> list[Ran]:
    """Run every waiting job of ``queues`` (default: all) in this process, one at a time, until
    none is left, through the app's plugins and outcome rules exactly as a worker would; due
    scheduled jobs too, and with ``with_scheduled`` every scheduled one (a retry's next
    attempt). Returns what ran, in order: each :class:`~toro_core.runtime.drain.Ran` has the
    ``job``, its ``status``, ``result`` and ``error``."""
    from toro_core.runtime.drain import adrain, run_sync

    return list(
        run_sync(adrain, _app(app), queues, with_scheduled=with_scheduled, max_jobs=max_jobs)
    )


async def adrain(
    app: Toro | None = None,
    queues: Sequence[str] | None = None,
    *,
    with_scheduled: bool = False,
    max_jobs: int = 10_000,
) -> list[Ran]:
    """The awaitable twin of :func:`drain` (for async tests)."""
    from toro_core.runtime import drain as running

    return await running.adrain(_app(app), queues, with_scheduled=with_scheduled, max_jobs=max_jobs)


@contextlib.contextmanager
def inline(app: Toro | None = None) -> Iterator[Toro]:
    """Within the block, every enqueue on the app's own connections runs the job at once in
    this process (as :func:`drain` runs it) and returns it finished; a job enqueued in your own
    transaction (``set(connection=...)``) cannot run before it commits, so it waits for a
    :func:`drain`. Also a fixture: ``toro_inline``."""
    target = _app(app)
    previous, target.inline = target.inline, True
    try:
        yield target
    finally:
        target.inline = previous


@pytest.fixture
def toro_inline(toro_app: Toro) -> Iterator[Toro]:
    """``toro_app`` in inline mode: ``perform_async`` runs the job at once."""
    with inline(toro_app) as app:
        yield app


def enqueued(worker_class: type[Worker], app: Toro | None = None) -> list[Job]:
    """The waiting jobs (queued, scheduled or blocked) of ``worker_class``, oldest first."""
    return _app(app).client.store().waiting_jobs(worker_class.class_name())


def assert_enqueued(
    worker_class: type[Worker],
    *args: Any,
    app: Toro | None = None,
    queue: str | None = None,
    **kwargs: Any,
) -> Job:
    """Assert a job of ``worker_class`` with these arguments (and ``queue``, if given) waits;
    return it. The failure message lists what waits instead."""
    waiting = enqueued(worker_class, app)
    for job in waiting:
        if job.args == list(args) and job.kwargs == kwargs and queue in (None, job.queue):
            return job
    shown = "; ".join(f"{j.args} {j.kwargs} in {j.queue}" for j in waiting[:10]) or "nothing"
    where = f" in queue {queue!r}" if queue else ""
    raise AssertionError(
        f"no waiting {worker_class.__qualname__} job with args {list(args)} and kwargs "
        f"{kwargs}{where}; waiting: {shown}"
    )


def refute_enqueued(
    worker_class: type[Worker], *args: Any, app: Toro | None = None, **kwargs: Any
) -> None:
    """Assert no job of ``worker_class`` waits (with these arguments, when any are given)."""
    for job in enqueued(worker_class, app):
        if not (args or kwargs) or (job.args == list(args) and job.kwargs == kwargs):
            raise AssertionError(f"{worker_class.__qualname__} job {job.id} is waiting: {job}")


@pytest.fixture
def start_worker(
    toro_db: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[WorkerFactory]:
    """Start ``toro-core start`` processes on this test's database (reaped at teardown).

    The test's folder is on their ``PYTHONPATH`` so ``-r`` can name modules beside the test.
    """
    factory = WorkerFactory(toro_db, tmp_path, [str(request.node.path.parent)])
    try:
        yield factory
    finally:
        factory.close()
