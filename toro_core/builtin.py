"""The kernel's own behaviour, written as ordinary ``trylast`` hook implementations."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from toro_core.markers import hookimpl
from toro_core.migrate import MigrationSource
from toro_core.statuses import CORE_STATUSES, Status

if TYPE_CHECKING:
    from toro_core.worker import Worker


@hookimpl(trylast=True)
def migrations() -> MigrationSource:
    return MigrationSource(owner="core", package="toro_core.migrations")


@hookimpl(trylast=True)
def statuses() -> Iterable[Status]:
    return CORE_STATUSES


@hookimpl(trylast=True)
def worker_options() -> dict[str, str]:
    return {
        "queue": "queue the worker's jobs go to (default 'default')",
        "timeout": "seconds an attempt may run before it fails with JobTimeout (default none)",
        "priority": "-100..100, larger claimed first (default 0)",
        "unique": "one job per class and arguments waiting or running at a time (default False)",
        "concurrency_limit": "at most N jobs running at once across processes (default none)",
        "rate_limit": "at most N starts per second, minute or hour, e.g. '50/s' (default none)",
    }


@hookimpl(trylast=True)
def job_name(worker_class: type[Worker], args: Sequence[Any], kwargs: dict[str, Any]) -> str | None:
    """The seed's behaviour: a ``job_name`` classmethod taking perform's arguments."""
    namer = getattr(worker_class, "job_name", None)
    if namer is None:
        return None
    name = namer(*args, **kwargs)
    return None if name is None else str(name)
