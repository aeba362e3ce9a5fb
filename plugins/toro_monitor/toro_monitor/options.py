"""The monitor's options: one frozen value given to :func:`toro_monitor.create_app`."""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
from collections.abc import Mapping

from toro_core import ConfigurationError
from toro_monitor.origins import normal_origin

#: Environment variables of the built-in HTTP basic auth.
USER_ENV = "TORO_MONITOR_USER"
PASSWORD_ENV = "TORO_MONITOR_PASSWORD"

#: Special keys of :attr:`MonitorOptions.charts`.
ALL = "ALL"
OTHER = "OTHER"


class AuthConfigError(ConfigurationError, ValueError):
    """Basic auth is half configured: a user without a password, or the reverse, or an empty
    one. The monitor refuses to start rather than serve without the auth that was meant."""


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
    search_window: int = 50_000
    #: Percentage of the table's blocks sampled to estimate large histogram counts ...
    sample_percent: float = 2.0
    #: ... but no more blocks than hold about this many rows, so a histogram costs the same
    #: on 10 M jobs as on 2.5 M (at 50,000 rows, a status of 10,000 jobs in 10 M is
    #: estimated from about 50 of them).
    sample_rows: int = 50_000
    #: HTTP basic auth ``(user, password)``; by default read from ``TORO_MONITOR_USER`` and
    #: ``TORO_MONITOR_PASSWORD`` (auth is off when neither is set; setting one, or setting
    #: one empty, is an :class:`AuthConfigError`).
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
    #: Origins (``https://ops.example.com``) whose POSTs are accepted besides the request's
    #: own host: for a proxy that rewrites the ``Host`` header.
    allowed_origins: tuple[str, ...] = ()
    #: The most jobs one press of a bulk action (retry failed, cancel waiting) changes; its
    #: confirmation counts up to this many and says when more match.
    bulk_limit: int = 10_000

    def __post_init__(self) -> None:
        if self.poll_interval < 250:
            raise ValueError("poll_interval must be at least 250 ms")
        if not 1 <= self.page_size <= 500:
            raise ValueError("page_size must be between 1 and 500")
        if not 1 <= self.bulk_limit <= 100_000:
            raise ValueError("bulk_limit must be between 1 and 100,000")
        if not 0 < self.sample_percent <= 100:
            raise ValueError("sample_percent must be above 0 and at most 100")
        if self.sample_rows < 1:
            raise ValueError("sample_rows must be at least 1")
        for pattern in self.charts:
            if pattern not in (ALL, OTHER):
                re.compile(pattern)
        if self.basic_auth is not None:
            check_basic_auth(*self.basic_auth)
        for origin in self.allowed_origins:
            if normal_origin(origin) is None:
                raise ValueError(
                    f"allowed_origins: {origin!r} is not an origin such as "
                    "'https://ops.example.com'"
                )


def check_basic_auth(user: object, password: object, source: str = "basic_auth") -> None:
    """Refuse a user or password that is empty or not text, and a user with a ``:`` (basic
    auth cannot carry one)."""
    for what, value in (("user", user), ("password", password)):
        if not isinstance(value, str) or not value:
            raise AuthConfigError(f"{source}: the {what} is empty; give both or neither")
    if ":" in str(user):
        raise AuthConfigError(f"{source}: the user may not contain ':'")


def basic_auth_from_env() -> tuple[str, str] | None:
    """``(user, password)`` from ``TORO_MONITOR_USER`` and ``TORO_MONITOR_PASSWORD``;
    ``None`` when neither is set; :class:`AuthConfigError` when only one is, or one is
    empty."""
    user, password = os.environ.get(USER_ENV), os.environ.get(PASSWORD_ENV)
    if user is None and password is None:
        return None
    if user is None or password is None:
        missing, present = (USER_ENV, PASSWORD_ENV) if user is None else (PASSWORD_ENV, USER_ENV)
        raise AuthConfigError(
            f"{present} is set but {missing} is not: set both for basic auth, or neither"
        )
    for name, value in ((USER_ENV, user), (PASSWORD_ENV, password)):
        if not value:
            raise AuthConfigError(f"{name} is empty: set both for basic auth, or neither")
    check_basic_auth(user, password, f"{USER_ENV}/{PASSWORD_ENV}")
    return (user, password)
