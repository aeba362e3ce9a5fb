"""The hot path that does not pay for history or for the monitor.

* Middleware is called without pluggy's dispatch but in pluggy's order (first registered
  outermost, ``tryfirst`` first), and through pluggy when a plugin wraps the hook.
* The monitor's indexes and the prune's leave out the rows a claim writes: a claim adds
  entries to the kernel's indexes only, whatever plugins are migrated.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

import psycopg
import pytest

from toro_core import Worker, hookimpl
from toro_core.testing import drain, rows

calls: list[str] = []


class Noop(Worker):
    async def perform(self) -> None:
        calls.append("perform")


def layer(name: str):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def around():  # type: ignore[no-untyped-def]
        calls.append(f"{name} in")
        yield
        calls.append(f"{name} out")

    return around()


class First:
    @hookimpl
    def around_job(self, execution):  # type: ignore[no-untyped-def]
        return layer("first")


class NoArguments:
    @hookimpl
    def around_job(self):  # type: ignore[no-untyped-def]
        return layer("bare")


class Eager:
    @hookimpl(tryfirst=True)
    def around_job(self, execution):  # type: ignore[no-untyped-def]
        return layer("eager")


class Skipping:
    @hookimpl
    def around_job(self, execution):  # type: ignore[no-untyped-def]
        return None


class Wrapping:
    @hookimpl(wrapper=True)
    def around_job(self, execution):  # type: ignore[no-untyped-def]
        calls.append("wrapper")
        return (yield)


@pytest.mark.parametrize("wrapped", [False, True])
def test_middleware_runs_in_registration_order(make_app, wrapped):
    plugins = [First(), NoArguments(), Skipping(), Eager()]
    app = make_app(plugins=[*plugins, Wrapping()] if wrapped else plugins)
    Noop.toro_app = app
    calls.clear()
    Noop.perform_async()
    drain(app)
    layers = [c for c in calls if c != "wrapper"]
    # pluggy calls tryfirst first and then the most recently registered; the kernel enters
    # the managers in reverse of that call order, so the first registered is outermost
    assert layers == [
        "first in",
        "bare in",
        "eager in",
        "perform",
        "eager out",
        "bare out",
        "first out",
    ]
    assert ("wrapper" in calls) is wrapped


def test_claims_write_no_monitor_or_prune_index(toro_db):
    """Every index of toro_jobs but the kernel's own leaves running rows out."""
    found = dict(
        rows(
            toro_db,
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'toro_jobs'",
        )
    )
    kernel = {"toro_jobs_pkey", "toro_jobs_running"}
    for name, definition in found.items():
        if name in kernel:
            continue
        assert " WHERE " in definition, definition
        with psycopg.connect(toro_db, autocommit=True) as conn:
            # the predicate refuses a running row (PostgreSQL evaluates it on a constant)
            predicate = definition.split(" WHERE ", 1)[1]
            value = conn.execute(
                f"SELECT {predicate} FROM (SELECT 'running'::text AS status,"
                " NULL::text AS unique_key) AS toro_jobs"
            ).fetchone()
            assert value is not None and value[0] in (False, None), (name, predicate)
