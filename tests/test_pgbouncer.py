"""toro behind PgBouncer in transaction pooling mode (``TORO_PGBOUNCER=transaction``).

Every test goes through a pgbouncer of the module's own (:mod:`pgbouncer_support`: Debian's
1.18, ``pool_mode = transaction``, three server connections per database) in front of the test
server. Workers are real ``toro-core start`` processes pointed at it. After a run, every server
connection of the pool is looked at: a session ``SET``, a prepared statement or a LISTEN left
behind by toro would show there, reaching whichever client is lent that connection next.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import psycopg
import pytest
from pgbouncer_support import PgBouncer, assert_clean, assert_quiet, explained, running
from pgbouncer_workers import Add, Boom, Echo, FailsOnce, Lingers, Progress, Spawns

from toro_core import JobCancelled, JobFailed, Toro
from toro_core.testing import as_default, drain, run_toro, scalar, wait_for, with_database

WORKERS = ("-r", "pgbouncer_workers")
PLUGINS = ["retry", "scheduler", "properties"]
#: A worker behind the pgbouncer; nothing listens unless a test gives a listen URL.
BOUNCED = {"TORO_PGBOUNCER": "transaction", "TORO_LISTEN_DATABASE_URL": ""}
FAST = ("--poll-interval", "0.2", "--heartbeat-interval", "0.5", "--dead-after", "3")


@pytest.fixture(scope="module")
def bouncer(toro_server_url: str) -> Iterator[PgBouncer]:
    with running(toro_server_url) as started:
        yield started


@pytest.fixture
def via(bouncer: PgBouncer, toro_db: str) -> str:
    """This test's database, through the pgbouncer."""
    return bouncer.url(toro_db)


@pytest.fixture
def bounced_app(via: str) -> Iterator[Toro]:
    """An app that enqueues through the pgbouncer (the retry plugin for its worker options)."""
    import toro_retry.plugin

    app = Toro(via, pgbouncer="transaction", plugins=[toro_retry.plugin], load_entry_points=False)
    with as_default(app):
        yield app
    app.close()


def test_enqueue_run_results_and_wait(bounced_app, via, start_worker):
    app = bounced_app
    worker = start_worker(
        *WORKERS, "-c", "4", *FAST, plugins=PLUGINS, env={"TORO_DATABASE_URL": via, **BOUNCED}
    )
    with explained(worker):
        one = Add.perform_async(1, 2)
        bulk = Add.perform_bulk([(i, i) for i in range(20)])

        async def from_async_code() -> tuple[list[int], Any]:
            job = await Echo.aperform_async({"a": [1]})
            more = await Echo.aperform_bulk([(i,) for i in range(10)])
            result = await app.await_result(job.id, timeout=30)
            await app.aclient.close()
            return more, result

        more, result = anyio.run(from_async_code)
        assert result == {"a": [1]}
        assert app.wait(one.id, timeout=30) == 3
        assert [app.wait(i, timeout=30) for i in bulk] == [2 * i for i in range(20)]
        assert [app.wait(i, timeout=30) for i in more] == list(range(10))
        with pytest.raises(JobFailed, match="no luck"):
            app.wait(Boom.perform_async("no luck").id, timeout=30)
        spawned = app.wait(Spawns.perform_async(4).id, timeout=30)  # enqueued by the job itself
        assert app.wait(spawned, timeout=30) == 8
        progress = Progress.perform_async()
        assert app.wait(progress.id, timeout=30) == {"value": 1}
        job = app.job(progress.id)
        assert job is not None and job.properties["step"] == "done"
        assert "found by polling every 0.2 s" in worker.log()
        assert worker.stop() == 0
        assert_quiet(worker.log())
        assert_clean(via)


def test_listen_goes_to_the_direct_url(via, toro_db, start_worker):
    env = {**BOUNCED, "TORO_DATABASE_URL": via, "TORO_LISTEN_DATABASE_URL": toro_db}
    worker = start_worker(*WORKERS, "--poll-interval", "30", env=env)  # polls would be slow
    with explained(worker):
        app = Toro(
            via, pgbouncer="transaction", listen_database_url=toro_db, load_entry_points=False
        )
        try:
            time.sleep(0.5)  # idle: the claim loop sleeps for its poll interval
            started = time.monotonic()
            job = app.client.enqueue(Add, (2, 3))
            assert app.wait(job.id, timeout=20) == 5  # woken by NOTIFY, awaited by LISTEN
            assert time.monotonic() - started < 5
            listening = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN toro_%%'"
            assert scalar(toro_db, listening) >= 1  # the worker's listener, straight to PostgreSQL
        finally:
            app.close()
        assert "found by polling" not in worker.log()
        assert worker.stop() == 0
        assert_clean(via)


def test_retries_scheduled_and_periodic_jobs(bounced_app, via, toro_db, start_worker):
    app = bounced_app
    worker = start_worker(
        *WORKERS, *FAST, plugins=PLUGINS, env={"TORO_DATABASE_URL": via, **BOUNCED}
    )
    with explained(worker):
        flaky = FailsOnce.perform_async("k")
        later = Add.perform_in(1, 20, 22)
        assert later.status == "scheduled"
        assert app.wait(flaky.id, timeout=30) == "k ok"  # waited for through its retry
        retried = app.job(flaky.id)
        assert retried is not None and retried.attempt == 2
        assert app.wait(later.id, timeout=30) == 42  # promoted when due
        ticks = (
            "SELECT count(*) FROM toro_jobs WHERE class_name LIKE '%%Ticks' AND status = 'complete'"
        )
        wait_for(lambda: scalar(toro_db, ticks) >= 2, timeout=20)
        assert worker.stop() == 0
        assert_quiet(worker.log())
        assert_clean(via)


def test_dead_workers_jobs_are_recovered(bounced_app, via, tmp_path, start_worker):
    env = {"TORO_DATABASE_URL": via, **BOUNCED}
    victim = start_worker(*WORKERS, *FAST, env=env)
    marker = tmp_path / "lingers"
    job = Lingers.perform_async(str(marker))
    wait_for(marker.exists, timeout=20)
    victim.signal(signal.SIGKILL)
    victim.popen.wait(timeout=10)
    rescuer = start_worker(*WORKERS, *FAST, env=env)
    with explained(victim, rescuer):
        assert bounced_app.wait(job.id, timeout=30) == "second run"
        recovered = bounced_app.job(job.id)
        assert recovered is not None and recovered.attempt == 2
        assert recovered.properties["recovered:count"] == 1
        assert rescuer.stop() == 0
        assert_quiet(rescuer.log())
        assert_clean(via)


def test_cancel_and_pause_reach_a_polling_worker(bounced_app, via, tmp_path, start_worker):
    app = bounced_app
    worker = start_worker(*WORKERS, *FAST, env={"TORO_DATABASE_URL": via, **BOUNCED})
    with explained(worker):
        marker = tmp_path / "cancelled"
        running = Lingers.perform_async(str(marker))
        wait_for(marker.exists, timeout=20)
        asked = time.monotonic()
        assert app.cancel(running.id) == {running.id: "requested"}
        with pytest.raises(JobCancelled):
            app.wait(running.id, timeout=20)
        assert time.monotonic() - asked < 5  # the watcher's poll (0.2 s) found the request
        assert app.pause("default")
        paused = Add.perform_async(1, 1)
        time.sleep(1)
        assert app.job(paused.id).status == "queued"  # type: ignore[union-attr]
        assert app.resume("default")
        assert app.wait(paused.id, timeout=20) == 2
        assert worker.stop() == 0
        assert_quiet(worker.log())
        assert_clean(via)


def test_embedded_worker_and_drain(bounced_app, via):
    app = bounced_app
    ids = Add.perform_bulk([(i, 1) for i in range(5)])
    ran = drain(app)
    assert sorted(r.result for r in ran) == [1, 2, 3, 4, 5] and {r.status for r in ran} == {
        "complete"
    }

    async def embedded() -> list[Any]:
        async with app.worker(concurrency=3, poll_interval=0.2):
            jobs = [await Echo.aperform_async(i) for i in range(6)]
            results = [await app.await_result(j.id, timeout=20) for j in jobs]
        await app.aclose()
        return results

    assert anyio.run(embedded) == list(range(6))
    assert [app.job(i).status for i in ids] == ["complete"] * 5  # type: ignore[union-attr]
    assert_clean(via)


@pytest.fixture
def empty_db(toro_server_url: str) -> Iterator[str]:
    """A database without toro's tables (created here, dropped at the end)."""
    name = f"toro_pgb_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(toro_server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield with_database(toro_server_url, name)
    finally:
        with psycopg.connect(toro_server_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_migrations_two_at_once(bouncer, empty_db):
    url = bouncer.url(empty_db)
    outputs: list[Any] = []

    def migrate() -> None:
        outputs.append(
            run_toro("migrate", "--pgbouncer", "transaction", database_url=url, plugins=PLUGINS)
        )

    threads = [threading.Thread(target=migrate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [o.returncode for o in outputs] == [0, 0], [o.stderr for o in outputs]
    applied = sorted(int(re.findall(r"(\d+) applied now", o.stdout)[0]) for o in outputs)
    assert applied[0] == 0 and applied[1] > 0  # each migration once, under the lock
    assert scalar(empty_db, "SELECT count(*) FROM toro_migrations") == applied[1]
    status = run_toro("status", database_url=url, env=BOUNCED)
    assert status.returncode == 0 and "live process" in status.stdout
    assert_clean(url)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_kernel_and_monitor_suites_pass_through_pgbouncer(bouncer, toro_server_url):
    """The kernel's enqueue and run tests and the monitor's page tests as they are, every app
    and worker of their fixtures going through the pgbouncer (``TORO_TEST_PGBOUNCER``; LISTEN
    on the direct URL, as a deployment with ``TORO_LISTEN_DATABASE_URL`` does)."""
    root = Path(__file__).parent.parent
    suites = [
        root / "tests" / "test_kernel_enqueue.py",
        root / "tests" / "test_kernel_runtime.py",
        root / "plugins" / "toro_monitor" / "tests" / "test_monitor.py",
    ]
    env = dict(
        os.environ,
        TORO_TEST_PGBOUNCER=f"127.0.0.1:{bouncer.port}",
        TORO_TEST_DATABASE_URL=toro_server_url,
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *map(str, suites)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=840,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and " skipped" not in result.stdout
