"""Middleware decided once per worker class (``job_middleware``) beside ``around_job``."""

from __future__ import annotations

import contextlib

from workers_basic import Noop

from toro_core import Worker, hookimpl
from toro_core.testing import as_default, drain


class Audited(Worker):
    audit = "orders"

    async def perform(self, n: int) -> int:
        return n


class Audit:
    """Middleware only for classes with an ``audit`` option; records what it saw."""

    def __init__(self, events: list[str]) -> None:
        self.asked: list[str] = []
        self.events = events

    @hookimpl
    def worker_options(self) -> dict[str, str]:
        return {"audit": "the audit trail jobs of this class are written to"}

    @hookimpl
    def job_middleware(self, worker_class):
        self.asked.append(worker_class.__name__)
        trail = getattr(worker_class, "audit", None)
        if trail is None:
            return None

        @contextlib.asynccontextmanager
        async def audited(execution):
            self.events.append(f"enter {trail} {execution.job.args[0]}")
            yield
            self.events.append(f"exit {execution.result}")

        return audited


class EveryJob:
    def __init__(self, events: list[str]) -> None:
        self.events = events

    @hookimpl
    def around_job(self, execution):
        @contextlib.asynccontextmanager
        async def inner():
            self.events.append("around enter")
            yield
            self.events.append("around exit")

        return inner()


def test_job_middleware_is_asked_once_per_class_and_none_costs_nothing(make_app):
    events: list[str] = []
    audit = Audit(events)
    with as_default(make_app(plugins=[audit])):
        Audited.perform_bulk([(1,), (2,), (3,)])
        Noop.perform_bulk([()] * 4)
        ran = drain()
    assert [r.status for r in ran] == ["complete"] * 7
    assert sorted(audit.asked) == ["Audited", "Noop"]  # once per class, not per job
    assert events == [item for n in (1, 2, 3) for item in (f"enter orders {n}", f"exit {n}")]


def test_job_middleware_is_entered_outside_around_job(make_app):
    events: list[str] = []
    with as_default(make_app(plugins=[EveryJob(events), Audit(events)])):
        Audited.perform_async(5)
        drain()
    assert events == ["enter orders 5", "around enter", "around exit", "exit 5"]
