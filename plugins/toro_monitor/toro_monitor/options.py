"""The monitor's options: one frozen value given to :func:`toro_monitor.create_app`."""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
from collections.abc import Mapping

#: Environment variables of the built-in HTTP basic auth.
USER_ENV = "TORO_MONITOR_USER"
PASSWORD_ENV = "TORO_MONITOR_PASSWORD"

#: Special keys of :attr:`MonitorOptions.charts`.
ALL = "ALL"
OTHER = "OTHER"


@dataclasses.dataclass(frozen=True)
class MonitorOptions:
    """How the monitor behaves. Every field has a default that suits a production table."""

    #: Milliseconds between live refreshes of the visible parts of a page.
    poll_interval: int = 3000
    #: Histograms of the Chart page: ``{queue regex: title}``; ``ALL`` shows every queue,
    #: ``OTHER`` the queues no regex matches. Regexes are searched (``re.search``).
    charts: Mapping[str, str] = dataclasses.field(default_factory=lambda: {ALL: "All queues"})
    #: Jobs per page of the jobs list.
    page_size: int = 50
    #: Counts up to this many are exact; above it they are estimates (shown with "~").
    count_threshold: int = 10_000
    #: Sorts that no index serves (start time, duration, name) look at the newest this many
    #: jobs when the table is larger.
    sort_window: int = 50_000
    #: The name search looks at the newest this many jobs when the table is larger.
    search_window: int = 100_000
    #: Percentage of the table's blocks sampled to estimate large histogram counts.
    sample_percent: float = 2.0
    #: HTTP basic auth ``(user, password)``; by default read from ``TORO_MONITOR_USER`` and
    #: ``TORO_MONITOR_PASSWORD`` (auth is off when either is unset).
    basic_auth: tuple[str, str] | None = dataclasses.field(
        default_factory=lambda: basic_auth_from_env()
    )
    #: Secret signing the cross-site request token; random per process by default, so set it
    #: when several monitor processes serve behind one load balancer.
    csrf_secret: str = dataclasses.field(default_factory=lambda: secrets.token_hex(16))
    #: Title in the page header.
    title: str = "toro"
    #: Connections the monitor's own pool may open.
    pool_size: int = 4
    #: Milliseconds after which a monitor query is cancelled (protects the database).
    statement_timeout: int = 5000

    def __post_init__(self) -> None:
        if self.poll_interval < 250:
            raise ValueError("poll_interval must be at least 250 ms")
        if not 1 <= self.page_size <= 500:
            raise ValueError("page_size must be between 1 and 500")
        for pattern in self.charts:
            if pattern not in (ALL, OTHER):
                re.compile(pattern)


def basic_auth_from_env() -> tuple[str, str] | None:
    """``(user, password)`` from the environment, or ``None`` when either is unset or empty."""
    user, password = os.environ.get(USER_ENV), os.environ.get(PASSWORD_ENV)
    if user and password:
        return (user, password)
    return None
