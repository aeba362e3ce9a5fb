"""The monitor behind PgBouncer in transaction pooling mode: pages, an action, its timeout.

PgBouncer refuses startup parameters, so the monitor's ``statement_timeout`` cannot ride on
its connections' ``options`` there: it becomes a ``SET LOCAL`` in a transaction around each
use of a connection, and must not outlive it.
"""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import psycopg
import pytest
import toro_metrics.plugin
import toro_monitor.plugin
import toro_properties.plugin
import toro_retry.plugin
import toro_scheduler.plugin
from litestar.testing import TestClient
from monitor_support import add_job, csrf_token, failed_properties
from pgbouncer_support import PgBouncer, assert_clean, running
from toro_monitor import MonitorOptions, create_app
from toro_monitor.store import MonitorStore

from toro_core import Toro
from toro_core.testing import scalar

HX = {"HX-Request": "true"}
PLUGINS = [
    toro_monitor.plugin,
    toro_retry.plugin,
    toro_scheduler.plugin,
    toro_properties.plugin,
    toro_metrics.plugin,
]


@pytest.fixture(scope="module")
def bouncer(toro_server_url: str) -> Iterator[PgBouncer]:
    with running(toro_server_url) as started:
        yield started


@pytest.fixture
def bounced(bouncer: PgBouncer, toro_db: str) -> Iterator[Toro]:
    app = Toro(
        bouncer.url(toro_db), pgbouncer="transaction", plugins=PLUGINS, load_entry_points=False
    )
    yield app
    app.close()


def test_pages_and_the_retry_action(bounced, toro_db, start_worker):
    failed = add_job(
        toro_db, status="failed", class_name="app.Mail", properties=failed_properties()
    )
    add_job(toro_db, status="complete", queue="mailers")
    add_job(toro_db, status="queued", queue="mailers")
    env = {"TORO_DATABASE_URL": bounced.database_url, "TORO_PGBOUNCER": "transaction"}
    # a live process for the Processes page, serving a queue none of these jobs is in
    worker = start_worker("-q", "elsewhere", env=env)
    with TestClient(create_app(bounced, MonitorOptions(basic_auth=None))) as client:
        pages = ["/", "/overview", "/jobs", "/jobs?status=failed&sort=duration", f"/jobs/{failed}"]
        pages += ["/queues", "/chart", "/processes", "/scheduled", "/metrics"]
        for path in pages:
            response = client.get(path)
            assert response.status_code == 200, (path, response.text[:300])
        assert "app.Mail" in client.get("/jobs").text
        assert client.get("/jobs", headers=HX).status_code == 200
        assert f":{worker.pid}" in client.get("/processes").text
        token = csrf_token(client.get(f"/jobs/{failed}").text)
        retried = client.post(
            f"/jobs/{failed}/retry?view=row", headers={**HX, "x-toro-csrf": token}
        )
        assert retried.status_code == 200
    assert scalar(toro_db, "SELECT status FROM toro_jobs WHERE id = %s", (failed,)) == "queued"
    assert worker.stop() == 0
    assert_clean(bounced.database_url)


def test_statement_timeout_is_local_to_each_use(bounced):
    store = MonitorStore(
        bounced.connections, MonitorOptions(basic_auth=None, statement_timeout=300)
    )

    async def use() -> str:
        try:
            async with store.connection() as conn:
                setting = await (await conn.execute("SHOW statement_timeout")).fetchone()
            with pytest.raises(psycopg.errors.QueryCanceled):
                async with store.connection() as conn:
                    await conn.execute("SELECT pg_sleep(3)")
            return str(setting["statement_timeout"]) if setting else ""
        finally:
            await store.close()

    assert anyio.run(use) == "300ms"
    assert_clean(bounced.database_url)  # no SET outlived its transaction
