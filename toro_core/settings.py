"""Where toro finds its database, and the worker process's options with their defaults."""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Mapping
from typing import Any

from toro_core.errors import ConfigurationError
from toro_core.retention import Retention

DATABASE_ENV = "TORO_DATABASE_URL"
#: The most jobs one worker process runs at once: beyond this, one event loop (and the
#: database connections behind it) is the bottleneck; run more processes instead.
MAX_CONCURRENCY = 1000


def database_url(explicit: str | None = None) -> str:
    """The conninfo to use: ``explicit``, else ``$TORO_DATABASE_URL``; an error if neither."""
    url = explicit or os.environ.get(DATABASE_ENV)
    if not url:
        raise ConfigurationError(
            f"no database configured: pass --database-url or set {DATABASE_ENV} "
            "(a postgresql:// URL or a libpq conninfo string)"
        )
    return url


@dataclasses.dataclass(frozen=True, slots=True)
class WorkerSettings:
    """Options of one worker process (``toro-core start``); every one has a TORO_* variable."""

    queues: tuple[str, ...] = ("default",)
    concurrency: int = 10
    #: Most jobs claimed in one statement.
    batch_size: int = 100
    #: Seconds between polls when no notification arrives.
    poll_interval: float = 1.0
    #: Seconds between heartbeats of this process.
    heartbeat_interval: float = 5.0
    #: Seconds without a heartbeat after which a process is dead and its jobs are recovered.
    dead_after: float = 30.0
    #: Seconds a graceful stop waits for running jobs before cancelling and requeueing them.
    shutdown_timeout: float = 25.0
    #: Outcomes written per statement, and the longest they wait in memory (seconds).
    flush_size: int = 200
    flush_interval: float = 0.05
    #: Most finished-but-unwritten outcomes held (during an outage claiming stops at this).
    max_pending_outcomes: int = 10_000
    #: Wait for the WAL flush on every claim and outcome (slower; see the README on durability).
    synchronous_commit: bool = False
    #: Seconds between two rounds of the promoter (due scheduled jobs to queued), and the most
    #: jobs one round promotes.
    promote_interval: float = 0.25
    promote_batch: int = 1000
    #: How many times a job may lose its worker process while it runs (a crash, a kill, the
    #: OOM killer, a process declared dead) before recovery ends it ``failed`` instead of
    #: queueing it again; the recovering process's own setting applies.
    max_recoveries: int = 3
    #: Packages whose modules a job may cause this process to import on first use (besides
    #: what it loaded already: ``-r`` modules and their imports, plugins, the application).
    allow_import: tuple[str, ...] = ()
    #: Seconds between two summary lines of what the process ran (``0``: none); a line is
    #: written only when jobs ran since the previous one.
    summary_interval: float = 10.0
    #: How long finished jobs are kept before the process's pruner deletes them, per final
    #: status (``--keep-complete`` and friends); see :mod:`toro_core.runtime.pruner`.
    retention: Retention = dataclasses.field(default_factory=Retention)
    #: Values of the options plugins add to ``toro-core start`` (the ``start_options`` hook),
    #: by name (``{"metrics_port": 9100}``); an embedded worker passes them itself.
    plugin_options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    #: ``host:pid`` written to ``started_by``.
    identity: str = dataclasses.field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}"
    )

    def __post_init__(self) -> None:
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise ConfigurationError(
                f"concurrency must be between 1 and {MAX_CONCURRENCY} (got {self.concurrency}); "
                "for more, run more worker processes: they share the queues through PostgreSQL"
            )
        if not self.queues:
            raise ConfigurationError("a worker must serve at least one queue")
        for queue in self.queues:
            if not isinstance(queue, str) or not queue.strip():
                raise ConfigurationError(f"queue names must be non-empty (got {queue!r})")
        for name in (
            "batch_size",
            "flush_size",
            "max_pending_outcomes",
            "promote_batch",
            "max_recoveries",
        ):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"{name} must be at least 1 (got {getattr(self, name)})")
        for name in ("poll_interval", "heartbeat_interval", "flush_interval", "promote_interval"):
            value = getattr(self, name)
            if not value > 0 or value == float("inf"):
                raise ConfigurationError(f"{name} must be a positive number of seconds")
        if not 0 <= self.summary_interval < float("inf"):
            raise ConfigurationError("summary_interval must be 0 (none) or more seconds")
        if not 0 <= self.shutdown_timeout < float("inf"):
            raise ConfigurationError("shutdown_timeout must be 0 or more seconds")
        if not self.dead_after < float("inf"):
            raise ConfigurationError("dead_after must be a finite number of seconds")
        if self.dead_after <= self.heartbeat_interval * 2:
            raise ConfigurationError(
                f"dead_after ({self.dead_after:g} s, --dead-after) must be more than twice "
                f"heartbeat_interval ({self.heartbeat_interval:g} s, --heartbeat-interval), or "
                "live processes would be declared dead"
            )
        if not isinstance(self.retention, Retention):
            raise ConfigurationError(
                "retention must be a toro_core.Retention, such as Retention(complete=7 * 86400)"
            )
        for package in self.allow_import:
            if not isinstance(package, str) or not all(
                part.isidentifier() for part in package.split(".")
            ):
                raise ConfigurationError(
                    f"allow_import names packages such as 'myapp.jobs' (got {package!r})"
                )
