"""The hot path that does not pay for history or for the monitor.

* Middleware is called without pluggy's dispatch but in pluggy's order (first registered
  outermost, ``tryfirst`` first), and through pluggy when a plugin wraps the hook.
* The monitor's index and the prune's leave out the rows a claim writes: a claim adds
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


def test_the_claim_walks_the_queued_index_even_with_stale_statistics(toro_db):
    """A burst of queued jobs over a history the statistics knew (no queued job in them): the
    claim still reads the kernel's queued index, never another index of toro_jobs."""
    import uuid

    from toro_core.store import query

    with psycopg.connect(toro_db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO toro_jobs (queue, class_name, status, finished_at)"
            " SELECT (ARRAY['default', 'mail', 'media'])[1 + g % 3], 'app.W' || (g % 8),"
            " (ARRAY['complete', 'failed'])[1 + (g % 10 = 0)::int], now()"
            " FROM generate_series(1, 30000) AS g"
        )
        conn.execute("VACUUM ANALYZE toro_jobs")
        conn.execute(
            "INSERT INTO toro_jobs (queue, class_name, status)"
            " SELECT 'default', 'app.W1', 'queued' FROM generate_series(1, 20000)"
        )
        owner = uuid.uuid4()
        conn.execute(
            query("register_process"),
            {
                "id": owner,
                "host": "h",
                "pid": 1,
                "queues": ["default"],
                "concurrency": 10,
                "meta": "{}",
            },
        )
        claim = "\n".join(
            line for line in query("claim_jobs").splitlines() if not line.startswith("--")
        )
        params = {
            "queue": "default",
            "queues": ["default"],
            "after_rank": 0,
            "after": 0,
            "limit": 10,
            "owner": owner,
            "started_by": "h:1",
            "relaxed": False,
        }
        plan = "\n".join(row[0] for row in conn.execute("EXPLAIN " + claim, params))
    scans = {
        line.split(" using ")[1].split(" on ")[0]
        for line in plan.splitlines()
        if " using " in line and " on toro_jobs" in line
    }
    assert "toro_jobs_queued_by_priority" in scans, plan
    assert scans <= {"toro_jobs_queued_by_priority", "toro_jobs_pkey"}, plan


def test_no_index_but_the_kernels_can_serve_the_claims_conditions(toro_db):
    """Even without the queued index, the claim's conditions (status, queue) are an index
    condition of no other index: the monitor's are keyed in another collation, so no
    statistics can ever make the planner walk them for a claim."""
    import uuid

    from toro_core.store import query

    claim = "\n".join(
        line for line in query("claim_jobs").splitlines() if not line.startswith("--")
    )
    with psycopg.connect(toro_db) as conn:
        owner = uuid.uuid4()
        conn.execute(
            query("register_process"),
            {
                "id": owner,
                "host": "h",
                "pid": 1,
                "queues": ["default"],
                "concurrency": 10,
                "meta": "{}",
            },
        )
        conn.execute("DROP INDEX toro_jobs_queued_by_priority")  # rolled back below
        conn.execute("SET LOCAL enable_seqscan = off")
        params = {
            "queue": "default",
            "queues": ["default"],
            "after_rank": 0,
            "after": 0,
            "limit": 10,
            "owner": owner,
            "started_by": "h:1",
            "relaxed": False,
        }
        plan = [row[0] for row in conn.execute("EXPLAIN " + claim, params)]
        conn.rollback()
    node = ""
    for line in plan:
        if "Scan" in line and "Cond" not in line:
            node = line
        if "Index Cond" in line and "on toro_jobs" in node:
            assert "toro_jobs_pkey" in node, "\n".join(plan)
