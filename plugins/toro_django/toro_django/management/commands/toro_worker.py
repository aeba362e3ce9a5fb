"""``manage.py toro_worker``: a toro worker process for the project's Django tasks.

::

    python manage.py toro_worker -c 10                 # every queue of the default backend
    python manage.py toro_worker -q emails -c 4        # only some queues
    python manage.py toro_worker --backend bulk        # another TASKS alias
    python manage.py toro_worker --keep-complete 3d    # retention, as toro-core start's

It imports the project's task modules (see :mod:`toro_django.registry`), defines a worker
class for each task of the backend, and runs ``toro-core start``'s loop with the installed
toro plugins (toro-retry, toro-properties...), importing no module a job names. SIGTERM or
SIGINT stops it gracefully (running tasks get ``--shutdown-timeout`` seconds).
"""

from __future__ import annotations

import logging
import sys
from argparse import ArgumentParser, Namespace
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from toro_core import Toro, ToroError
from toro_core.plugin import WorkerSettings, add_retention_options, retention_of, run_worker
from toro_django import worker as worker_plugin
from toro_django.backend import TaskBackend
from toro_django.compat import task_backends


class Command(BaseCommand):  # type: ignore[misc]
    help = "Run a toro worker process for this project's Django tasks."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("-c", "--concurrency", type=int, default=10, help="tasks run at once")
        parser.add_argument(
            "-q",
            "--queue",
            dest="queues",
            action="append",
            help="queue to serve, repeatable (default: every queue of the backend's QUEUES)",
        )
        parser.add_argument(
            "--backend", default="default", help="the TASKS alias to run (default 'default')"
        )
        parser.add_argument(
            "--shutdown-timeout",
            type=float,
            default=25.0,
            help="seconds running tasks get on SIGTERM (default 25)",
        )
        parser.add_argument(
            "--log-level", default="INFO", help="level of the 'toro' logger (default INFO)"
        )
        add_retention_options(parser)  # --keep-complete and friends, as toro-core start's

    def handle(self, *args: Any, **options: Any) -> None:
        backend = self._backend(options["backend"])
        tasks = backend.registry.discover([options["backend"]])
        queues = options["queues"] or sorted(backend.queues) or ["default"]
        _log_to_stderr(options["log_level"])
        app = Toro(backend.toro.database_url)
        app.register(worker_plugin, name="django")
        names = ", ".join(sorted(task.module_path for task in tasks)) or "none"
        self.stderr.write(f"toro_worker: tasks {names}")
        try:
            settings = WorkerSettings(
                queues=tuple(dict.fromkeys(queues)),
                concurrency=options["concurrency"],
                shutdown_timeout=options["shutdown_timeout"],
                retention=retention_of(Namespace(**options)),
            )
            connections.close_all()  # the worker's threads open their own
            code = run_worker(app, settings)
        except ToroError as exc:
            raise CommandError(str(exc)) from None
        if code:
            sys.exit(code)

    def _backend(self, alias: str) -> TaskBackend:
        try:
            backend = task_backends[alias]
        except Exception as exc:
            raise CommandError(f"no task backend {alias!r} in settings.TASKS ({exc})") from None
        if not isinstance(backend, TaskBackend):
            raise CommandError(
                f"task backend {alias!r} is {type(backend).__module__}.{type(backend).__name__},"
                " not toro_django.TaskBackend"
            )
        return backend


def _log_to_stderr(level: str) -> None:
    """Show the ``toro`` logger's lines on stderr unless Django's LOGGING already routes them."""
    logger = logging.getLogger("toro")
    try:
        logger.setLevel(level.upper())
    except ValueError:
        raise CommandError(f"--log-level: unknown level {level!r}") from None
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
