"""Job statuses: the kernel's and those plugins add through the ``statuses`` hook."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

from toro_core.errors import DuplicateStatusError, UnknownStatusError

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclasses.dataclass(frozen=True, slots=True)
class Status:
    """A status a job can have, and how the monitor shows it."""

    #: Stored in ``toro_jobs.status``: lowercase letters, digits and ``_``.
    name: str
    #: Human label for badges and filters.
    label: str
    #: Badge and histogram colour, ``#rrggbb``.
    color: str
    #: ``True`` when a job in this status will not run again by itself.
    final: bool

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"status name {self.name!r} must match {_NAME.pattern}")
        if not _COLOUR.match(self.color):
            raise ValueError(f"status {self.name!r}: colour {self.color!r} is not #rrggbb")


#: The kernel's statuses, contributed by its built-in plugin.
CORE_STATUSES = (
    Status("queued", "Queued", "#6c757d", final=False),
    Status("running", "Running", "#0d6efd", final=False),
    Status("complete", "Complete", "#198754", final=True),
    Status("failed", "Failed", "#dc3545", final=True),
    # Stopped on request (toro-core jobs cancel, the monitor, app.cancel): never runs again.
    Status("cancelled", "Cancelled", "#fd7e14", final=True),
    # Waiting for its scheduled_at (perform_in, a retry's delay); the promoter queues it then.
    Status("scheduled", "Scheduled", "#6f42c1", final=False),
    # Waiting for a slot of its concurrency limit; queued again when one frees.
    Status("blocked", "Blocked", "#adb5bd", final=False),
)


class StatusRegistry:
    """The statuses known in this process, in registration order, each owned by one plugin."""

    def __init__(self, contributions: Iterable[tuple[str, Iterable[Status]]]) -> None:
        self._statuses: dict[str, Status] = {}
        owners: dict[str, str] = {}
        for plugin, statuses in contributions:
            for status in statuses:
                if status.name in owners:
                    raise DuplicateStatusError(
                        f"status {status.name!r} is registered by both plugin "
                        f"{owners[status.name]!r} and plugin {plugin!r}"
                    )
                owners[status.name] = plugin
                self._statuses[status.name] = status
        self.owners = owners

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._statuses.values())

    def __contains__(self, name: object) -> bool:
        return name in self._statuses

    def __getitem__(self, name: str) -> Status:
        try:
            return self._statuses[name]
        except KeyError:
            raise UnknownStatusError(
                f"unknown status {name!r}; known: {', '.join(self._statuses)}"
            ) from None

    def names(self) -> list[str]:
        return list(self._statuses)
