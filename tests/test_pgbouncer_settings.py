"""PgBouncer in transaction mode, the parts: the setting and its errors, what a client not
told about the pooler meets, claims and outcomes that relax their own commit, and a
registry race that PgBouncer's waits made visible."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import anyio
import psycopg
import pytest
from pgbouncer_support import PgBouncer, running
from pgbouncer_workers import Add

from toro_core import ConfigurationError, StatementError, Toro
from toro_core.testing import run_toro


@pytest.fixture(scope="module")
def bouncer(toro_server_url: str) -> Iterator[PgBouncer]:
    with running(toro_server_url) as started:
        yield started


@pytest.fixture
def via(bouncer: PgBouncer, toro_db: str) -> str:
    return bouncer.url(toro_db)


def test_without_the_setting_prepared_statements_fail_with_a_hint(via):
    """What happens to a client not told about the pooler: psycopg prepares a statement that
    one connection ran five times, on the server connection it happens to be lent then; the
    next client that does the same there is refused (or finds its own missing elsewhere).
    toro says what to set."""
    apps = [Toro(via, load_entry_points=False) for _ in range(2)]
    try:
        with pytest.raises(StatementError, match="set TORO_PGBOUNCER=transaction") as raised:
            for _ in range(50):  # the pools take turns between their connections
                for app in apps:
                    app.job(1)
        assert raised.value.sqlstate in ("42P05", "26000")  # already exists / does not exist
        told = Toro(via, pgbouncer="transaction", load_entry_points=False)
        assert [told.job(1) for _ in range(50)] == [None] * 50
        told.close()
    finally:
        for app in apps:
            app.close()


def test_claims_and_outcomes_relax_their_own_commit_only(toro_db):
    """Behind a transaction pooler the worker's claims and outcomes set synchronous_commit off
    inside their statement, for their transaction alone; a direct worker's store does not
    touch it (its sessions are SET once)."""
    from toro_core.store import CoreStore, PendingOutcome

    app = Toro(toro_db, load_entry_points=False)
    show = "SELECT current_setting('synchronous_commit') AS value"

    async def commit_settings(relaxed: bool) -> list[str]:
        app.client.enqueue(Add, (1, 1))
        owner, seen = str(uuid.uuid4()), []
        async with await psycopg.AsyncConnection.connect(toro_db, autocommit=True) as conn:
            store = CoreStore(connection=conn, relaxed_commit=relaxed)
            await store.register_process(
                process_id=owner, host="h", pid=1, queues=["default"], concurrency=1, meta={}
            )
            async with conn.transaction():
                [job] = await store.claim(
                    queues=["default"], after=(-101, 0), limit=1, owner=owner, started_by="h:1"
                )
                seen.append((await store.fetch_all(show))[0]["value"])
            async with conn.transaction():
                done = PendingOutcome(job.id, job.attempt, owner, "complete", 0.1, None, "{}")
                assert await store.finish(owner, [done]) == {job.id}
                seen.append((await store.fetch_all(show))[0]["value"])
            seen.append((await store.fetch_all(show))[0]["value"])  # after the transaction
        return seen

    try:
        assert anyio.run(commit_settings, True) == ["off", "off", "on"]
        assert anyio.run(commit_settings, False) == ["on", "on", "on"]
    finally:
        app.close()


def test_the_setting_and_its_errors(monkeypatch, via):
    with pytest.raises(ConfigurationError, match="TORO_PGBOUNCER / pgbouncer must be one of"):
        Toro("host=db", pgbouncer="transactions")
    monkeypatch.setenv("TORO_PGBOUNCER", "Transaction")
    monkeypatch.setenv("TORO_LISTEN_DATABASE_URL", "host=direct")
    bounced = Toro("host=bouncer").connections
    assert bounced.transaction_pooled and bounced.kwargs == {"prepare_threshold": None}
    assert bounced.listen == "host=direct"
    monkeypatch.delenv("TORO_LISTEN_DATABASE_URL")
    assert Toro("host=bouncer").connections.listen is None  # nothing listens: polling
    direct = Toro("host=db", pgbouncer="off").connections
    assert (direct.kwargs, direct.listen) == ({}, "host=db")
    assert Toro("host=db", pgbouncer="session").connections.listen == "host=db"
    wrong = run_toro("status", database_url=via, env={"TORO_PGBOUNCER": "sometimes"})
    assert wrong.returncode == 1
    assert "toro-core: error: TORO_PGBOUNCER / pgbouncer must be one of" in wrong.stderr
    flagged = run_toro("status", "--pgbouncer", "transaction", database_url=via)
    assert flagged.returncode == 0, flagged.stderr


def test_a_heartbeat_in_flight_as_the_process_leaves_does_not_register_it_again():
    """Seen through PgBouncer, where a statement may wait for a server connection: the
    heartbeat finds the row the leaving process just deleted. That is not "declared dead"."""
    from toro_core.runtime.registry import ProcessRegistry
    from toro_core.settings import WorkerSettings

    class Rows:
        registered = 0

        async def register_process(self, **row: Any) -> None:
            self.registered += 1

        async def heartbeat(self, process_id: str) -> bool:
            await anyio.sleep(0.05)  # meanwhile the process leaves
            return False

        async def deregister_process(self, process_id: str) -> None:
            pass

    rows, dead = Rows(), []
    registry = ProcessRegistry(rows, WorkerSettings(), on_declared_dead=dead.append)  # type: ignore[arg-type]

    async def race() -> None:
        await registry.register()
        async with anyio.create_task_group() as group:
            group.start_soon(registry.heartbeat)
            await anyio.sleep(0.01)
            await registry.deregister()

    anyio.run(race)
    assert (rows.registered, dead) == (1, [])
