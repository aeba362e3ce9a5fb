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
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import psycopg
import pytest

from toro_core import migrate
from toro_core.app import Toro
from toro_core.testkit.databases import (
    PGBOUNCER_ENV,
    SERVER_ENV,
    port_open,
    routed,
    rows,
    scalar,
    wait_for,
    with_database,
)
from toro_core.testkit.jobs import (
    adrain,
    assert_enqueued,
    drain,
    enqueued,
    inline,
    refute_enqueued,
)
from toro_core.testkit.processes import WorkerFactory, WorkerHandle, run_toro
from toro_core.testkit.proxy import TcpProxy

__all__ = [
    "PGBOUNCER_ENV",
    "SERVER_ENV",
    "TcpProxy",
    "WorkerFactory",
    "WorkerHandle",
    "adrain",
    "as_default",
    "assert_enqueued",
    "drain",
    "enqueued",
    "inline",
    "refute_enqueued",
    "routed",
    "rows",
    "run_toro",
    "scalar",
    "wait_for",
    "with_database",
]


# -------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def toro_server_url() -> Iterator[str]:
    """A conninfo for the server the tests use (see the module docstring)."""
    explicit = os.environ.get(SERVER_ENV)
    if explicit:
        yield explicit
        return
    port = int(os.environ.get("TORO_TEST_LOCAL_PORT", "5432"))  # tests of this fallback move it
    if port_open("127.0.0.1", port):
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


@pytest.fixture
def toro_inline(toro_app: Toro) -> Iterator[Toro]:
    """``toro_app`` in inline mode: ``perform_async`` runs the job at once."""
    with inline(toro_app) as app:
        yield app


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
