"""What the monitor's actions may change, and the checks on what an action's request carries.

A light module (no Litestar, no database): the statuses a job can be cancelled from, the two
bulk actions on the filtered jobs list, and the parsing of an action's form fields. Every
value comes from a request, so from anyone: anything unexpected is a :class:`BadQuery`
(answered with 400), never an error of the server.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from toro_monitor import jobquery
from toro_monitor.cursor import MAX_ID, MIN_ID, BadQuery
from toro_monitor.jobquery import JobQuery

#: Statuses a job can be cancelled from (the kernel's ``cancel_jobs``): the waiting ones are
#: cancelled at once, a running one is stopped by the process that holds it.
WAITING = ("queued", "scheduled", "blocked")
CANCELLABLE = (*WAITING, "running")
#: Form fields every action may carry besides its own: the cross-site token (without
#: JavaScript it travels in the form).
TOKEN_FIELD = "_csrf_token"


@dataclasses.dataclass(frozen=True)
class BulkAction:
    """One action on every job of the filtered list that is in one of ``statuses``."""

    name: str
    #: Title of its confirmation.
    title: str
    statuses: tuple[str, ...]
    #: What the jobs it acts on are, in a sentence ("failed" jobs).
    kind: str
    #: Label of its button ("Retry").
    verb: str
    #: What happens to the jobs, said in the confirmation.
    effect: str


@dataclasses.dataclass(frozen=True)
class BulkResult:
    """What one press of a bulk action did."""

    #: Jobs that matched when it ran (at most the bulk limit).
    selected: int
    #: Jobs it changed (queued again, or cancelled).
    changed: int
    #: Running jobs asked to stop (a waiting job that started between count and press).
    requested: int = 0

    @property
    def left_alone(self) -> int:
        return self.selected - self.changed - self.requested


BULK = {
    "retry": BulkAction(
        name="retry",
        title="Retry failed jobs",
        statuses=("failed",),
        kind="failed",
        verb="Retry",
        effect="They go back to their queues; each keeps its last error in retried:history.",
    ),
    "cancel": BulkAction(
        name="cancel",
        title="Cancel waiting jobs",
        statuses=WAITING,
        kind="waiting",
        verb="Cancel",
        effect="Waiting means queued, scheduled or blocked: they end cancelled and never run."
        " Running jobs are left alone.",
    ),
}


def statuses_for(action: BulkAction, query: JobQuery) -> list[str]:
    """The statuses ``action`` touches under ``query``'s status filter (none when the filter
    names another status)."""
    return [s for s in action.statuses if query.status in (None, s)]


def describe(query: JobQuery) -> list[tuple[str, str]]:
    """``query``'s filters as ``(what, value)`` pairs, for a confirmation to state them."""
    pairs = (
        ("status", query.status),
        ("queue", query.queue),
        ("worker", query.class_name),
        ("name contains", query.search),
    )
    return [(what, value) for what, value in pairs if value]


def one(fields: Mapping[str, list[str]], name: str, limit: int = jobquery.MAX_TEXT) -> str:
    """The single value of a required field: present once, not empty, at most ``limit``
    characters, without NUL."""
    values = fields.get(name) or []
    if len(values) != 1:
        raise BadQuery(f"field {name!r} must be given once")
    value = values[0].strip()
    if not value:
        raise BadQuery(f"field {name!r} is empty")
    if len(value) > limit:
        raise BadQuery(f"field {name!r} is longer than {limit} characters")
    if "\x00" in value:
        raise BadQuery(f"field {name!r} contains a NUL character")
    return value


def job_id(text: str, name: str = "upto") -> int:
    """A job id written in decimal digits, within ``bigint``."""
    if not text.isascii() or not text.lstrip("-").isdigit() or len(text) > 20:
        raise BadQuery(f"field {name!r} is not a job id")
    value = int(text)
    if not MIN_ID <= value <= MAX_ID:
        raise BadQuery(f"field {name!r} is out of range")
    return value


def bulk_form(fields: Mapping[str, list[str]], statuses: set[str]) -> tuple[JobQuery, int]:
    """A confirmed bulk action's form: the list's filters and ``upto``, the newest job id the
    confirmation counted. Any other field is refused."""
    rest = {k: v for k, v in fields.items() if k not in (TOKEN_FIELD, "upto")}
    unknown = set(rest) - {"queue", "class", "status", "q"}
    if unknown:
        names = ", ".join(jobquery.shown(name) for name in sorted(unknown)[:5])
        raise BadQuery(f"unknown field(s): {names}")
    return jobquery.parse(rest, statuses), job_id(one(fields, "upto"))


def queue_form(fields: Mapping[str, list[str]]) -> str:
    """The queue a pause or resume names (field ``queue``); any other field is refused."""
    unknown = set(fields) - {TOKEN_FIELD, "queue"}
    if unknown:
        names = ", ".join(jobquery.shown(name) for name in sorted(unknown)[:5])
        raise BadQuery(f"unknown field(s): {names}")
    return one(fields, "queue")


def no_parameters(params: Mapping[str, list[str]], allowed: tuple[str, ...] = ()) -> None:
    """Refuse query parameters an action does not take."""
    unknown = set(params) - set(allowed)
    if unknown:
        names = ", ".join(jobquery.shown(name) for name in sorted(unknown)[:5])
        raise BadQuery(f"unknown parameter(s): {names}")
