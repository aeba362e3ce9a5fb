"""Fixtures of the toro-django tests: the test project (django_project, beside this file) on
each test's own database, and ``manage.py toro_worker`` processes started as users start them."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from toro_core.testing import WorkerHandle, wait_for

PROJECT = Path(__file__).parent / "django_project"
SETTINGS = "toro_site.settings"


def setup_django() -> None:
    """Configure Django for this process with the test project's settings (once)."""
    if str(PROJECT) not in sys.path:
        sys.path.insert(0, str(PROJECT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS)
    import django

    django.setup()


def close_connections() -> None:
    """Close Django's connections in this thread and in asgiref's thread for sync code called
    from async code (aenqueue and friends), which outlives a test."""
    import anyio
    from asgiref.sync import sync_to_async
    from django.db import connections

    connections.close_all()
    anyio.run(sync_to_async(connections.close_all))


@pytest.fixture
def django_db(toro_db: str) -> Iterator[str]:
    """Django pointed at this test's database (migrated: the project's tables beside
    toro's), with fresh task backends; yields the conninfo."""
    setup_django()
    from django.conf import settings
    from django.core.management import call_command
    from django.test.utils import override_settings
    from toro_django.compat import task_backends

    parts = conninfo_to_dict(toro_db)
    database = settings.DATABASES["default"]
    saved = dict(database)
    close_connections()
    database.update(
        NAME=parts["dbname"],
        HOST=parts.get("host", ""),
        PORT=parts.get("port", ""),
        USER=parts.get("user", ""),
        PASSWORD=parts.get("password", ""),
    )
    try:
        call_command("migrate", verbosity=0)
        with override_settings(TASKS=settings.TASKS):  # new backends, on this database
            try:
                yield toro_db
            finally:
                task_backends["default"].toro.close()
    finally:
        close_connections()
        database.clear()
        database.update(saved)


@pytest.fixture
def django_worker(toro_db: str, tmp_path: Path) -> Iterator[Callable[..., WorkerHandle]]:
    """``django_worker("-c", "4")`` starts ``manage.py toro_worker -c 4`` on this test's
    database and waits until it runs; every one is stopped at teardown."""
    handles: list[WorkerHandle] = []

    def start(*args: str, env: dict[str, str] | None = None) -> WorkerHandle:
        environment = dict(os.environ)
        environment.update(
            TORO_DJANGO_DATABASE=toro_db,
            DJANGO_SETTINGS_MODULE=SETTINGS,
            PYTHONUNBUFFERED="1",
            **(env or {}),
        )
        environment.pop("TORO_PLUGINS", None)
        log_path = tmp_path / f"django-worker-{len(handles)}.log"
        popen = subprocess.Popen(
            [sys.executable, str(PROJECT / "manage.py"), "toro_worker", *args],
            env=environment,
            stdout=open(log_path, "wb"),
            stderr=subprocess.STDOUT,
            cwd=PROJECT,
        )
        handle = WorkerHandle(popen, log_path)
        handles.append(handle)
        wait_for(lambda: "running: queues" in handle.log() or popen.poll() is not None)
        if popen.poll() is not None:
            raise AssertionError(f"toro_worker exited with {popen.returncode}:\n{handle.log()}")
        return handle

    yield start
    for handle in handles:
        with contextlib.suppress(Exception):
            handle.kill()
