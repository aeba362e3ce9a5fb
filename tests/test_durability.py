"""Durability end to end: crashes, freezes, outages, shutdowns, the registry and timeouts.

Workers are real ``toro-core start`` processes. Recovery runs with a short heartbeat (0.5 s)
and a short death timeout (3 s) so the tests stay fast; every worker of a test uses the same
values, as a deployment would. Outages go through :class:`TcpProxy`, never the shared server.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import psycopg
import pytest
from durability_workers import EXECUTIONS_DDL, RecordedSleep, Sleep, SyncSleep, SyncStuck

from toro_core.testing import TcpProxy, rows, scalar, wait_for

FAST = ("--heartbeat-interval", "0.5", "--dead-after", "3")


def _statuses(db: str) -> dict[str, int]:
    return dict(rows(db, "SELECT status, count(*) FROM toro_jobs GROUP BY status"))


def _identity(worker) -> str:
    return f"{socket.gethostname()}:{worker.pid}"


@pytest.fixture
def executions(toro_db: str) -> dict[str, str]:
    """The table jobs record their starts in; the env that points them at it."""
    with psycopg.connect(toro_db, autocommit=True) as conn:
        conn.execute(EXECUTIONS_DDL)
    return {"DURABILITY_RECORD_URL": toro_db}


def test_kill_9_jobs_are_recovered_by_another_worker(toro_app, toro_db, start_worker, executions):
    RecordedSleep.perform_bulk([(i, 2.0) for i in range(200)])
    victim = start_worker("-r", "durability_workers", "-c", "200", *FAST, env=executions)
    wait_for(lambda: _statuses(toro_db) == {"running": 200}, timeout=20)
    wait_for(lambda: scalar(toro_db, "SELECT count(*) FROM test_executions") == 200, timeout=10)
    victim.signal(signal.SIGKILL)
    victim.popen.wait(timeout=10)
    killed_at = time.monotonic()
    rescuer = start_worker("-r", "durability_workers", "-c", "200", *FAST, env=executions)
    wait_for(lambda: _statuses(toro_db) == {"complete": 200}, timeout=30)
    assert time.monotonic() - killed_at >= 2.0  # not before the victim was dead
    found = rows(
        toro_db,
        "SELECT attempt, started_by, properties->>'recovered:from', properties->>'recovered:count',"
        " properties ? 'recovered:at' FROM toro_jobs",
    )
    assert {row for row in found} == {(2, _identity(rescuer), _identity(victim), "1", True)}
    runs = dict(rows(toro_db, "SELECT pid, count(*) FROM test_executions GROUP BY pid"))
    assert runs == {victim.pid: 200, rescuer.pid: 200}
    assert "recovered 200 jobs from 1 dead processes" in rescuer.log()
    assert rescuer.stop() == 0


def test_frozen_worker_comes_back_fenced_out(toro_app, toro_db, start_worker, executions):
    """SIGSTOP past the death timeout, then SIGCONT: the stale completions are refused."""
    RecordedSleep.perform_bulk([(i, 1.5) for i in range(50)])
    frozen = start_worker("-r", "durability_workers", "-c", "50", *FAST, env=executions)
    wait_for(lambda: scalar(toro_db, "SELECT count(*) FROM test_executions") == 50, timeout=20)
    frozen.signal(signal.SIGSTOP)
    rescuer = start_worker("-r", "durability_workers", "-c", "50", *FAST, env=executions)
    # The rescuer declares the frozen process dead and runs its jobs again (attempt 2).
    wait_for(
        lambda: (
            scalar(toro_db, "SELECT count(*) FROM test_executions WHERE pid = %s", (rescuer.pid,))
            == 50
        ),
        timeout=20,
    )
    assert _statuses(toro_db) == {"running": 50}
    frozen.signal(signal.SIGCONT)  # its sleeps are over: it finishes its stale attempts at once
    wait_for(lambda: "refused" in frozen.log(), timeout=10)
    wait_for(lambda: _statuses(toro_db) == {"complete": 50}, timeout=20)
    wait_for(lambda: "registering again" in frozen.log(), timeout=10)
    found = set(rows(toro_db, "SELECT attempt, started_by FROM toro_jobs"))
    assert found == {(2, _identity(rescuer))}
    runs = dict(rows(toro_db, "SELECT pid, count(*) FROM test_executions GROUP BY pid"))
    assert runs == {frozen.pid: 50, rescuer.pid: 50}  # the frozen one did not start them again
    assert scalar(toro_db, "SELECT count(*) FROM test_completions") == 50
    # It is a live worker again, under a new registry id.
    assert frozen.popen.poll() is None
    assert scalar(toro_db, "SELECT count(*) FROM toro_processes WHERE pid = %s", (frozen.pid,)) == 1
    assert frozen.stop() == 0 and rescuer.stop() == 0
    assert "50 refused" in frozen.log()


@pytest.fixture
def proxy(toro_db: str):
    """A TCP proxy in front of the server that can be cut; ``proxy.url`` leads through it."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    parts = conninfo_to_dict(toro_db)
    tcp = TcpProxy(parts.get("host", "127.0.0.1"), int(parts.get("port", 5432)))
    tcp.url = make_conninfo(**{**parts, "host": "127.0.0.1", "port": str(tcp.port)})
    try:
        yield tcp
    finally:
        tcp.close()


def test_database_cut_for_5_seconds(toro_app, toro_db, start_worker, proxy):
    """Two workers lose the database for longer than the death timeout: the jobs running go
    on and their outcomes wait; nothing is lost, no job runs twice, neither declares the
    other dead, neither exits; claiming and LISTEN come back by themselves."""
    long_ids = Sleep.perform_bulk([(4.0,)] * 20)  # finish while the database is away
    Sleep.perform_bulk([(0.02,)] * 1000)
    env = {"TORO_DATABASE_URL": proxy.url}
    args = ("-r", "durability_workers", "-c", "20", "--poll-interval", "30", *FAST)
    workers = [start_worker(*args, env=env) for _ in range(2)]
    # Cut as soon as every long job runs (however slow the machine), while short jobs flow.
    wait_for(
        lambda: (
            scalar(
                toro_db,
                "SELECT count(*) FROM toro_jobs WHERE id = ANY(%s) AND status = 'running'",
                (long_ids,),
            )
            == 20
            and _statuses(toro_db).get("complete", 0) >= 20
        ),
        timeout=20,
        interval=0.01,
    )
    cut_at = scalar(toro_db, "SELECT clock_timestamp()")
    proxy.cut()
    done_before = _statuses(toro_db).get("complete", 0)
    time.sleep(5)
    assert _statuses(toro_db).get("complete", 0) == done_before  # nothing reached the database
    assert all(w.popen.poll() is None for w in workers)
    restored_at = scalar(toro_db, "SELECT clock_timestamp()")
    proxy.restore()
    wait_for(lambda: _statuses(toro_db) == {"complete": 1020}, timeout=30)
    # No job was recovered from a process thought dead. The only second attempts allowed are
    # jobs of a claim that committed while the cut lost its answer: the claiming process hands
    # them back itself (they never ran).
    identities = {_identity(w) for w in workers}
    again = rows(
        toro_db, "SELECT attempt, properties->>'recovered:from' FROM toro_jobs WHERE attempt > 1"
    )
    assert all(attempt == 2 and source in identities for attempt, source in again), again
    assert len(again) <= 40  # at most one claim of each worker was on the wire
    finished = [
        row[0]
        for row in rows(
            toro_db, "SELECT finished_at FROM toro_jobs WHERE id = ANY(%s)", (long_ids,)
        )
    ]
    assert all(cut_at < at < restored_at for at in finished)  # ran on, written afterwards
    # Idle now, polling only every 30 s: a new job is picked up at once through LISTEN.
    time.sleep(1)
    Sleep.perform_async(0)
    wait_for(lambda: _statuses(toro_db) == {"complete": 1021}, timeout=3)
    for worker in workers:
        assert worker.popen.poll() is None
        log = worker.log()
        for trouble in ("refused", "declared dead", "dead processes"):
            assert trouble not in log, log[-3000:]
    assert scalar(toro_db, "SELECT count(*) FROM toro_processes") == 2
    assert [w.stop() for w in workers] == [0, 0]
    assert scalar(toro_db, "SELECT count(*) FROM toro_processes") == 0


@pytest.mark.parametrize("job", [Sleep, SyncSleep], ids=["async", "sync"])
def test_sigterm_requeues_long_jobs_for_the_next_worker(toro_app, toro_db, start_worker, job):
    ids = job.perform_bulk([(30.0,)] * 5)
    first = start_worker("-r", "durability_workers", "-c", "5", "--shutdown-timeout", "1")
    wait_for(lambda: _statuses(toro_db) == {"running": 5}, timeout=20)
    stopped_at = time.monotonic()
    assert first.stop(timeout=15) == 0
    assert time.monotonic() - stopped_at < 5
    found = rows(
        toro_db, "SELECT status, attempt, locked_by, properties FROM toro_jobs ORDER BY id"
    )
    assert [(status, attempt, holder) for status, attempt, holder, _ in found] == [
        ("queued", 1, None)
    ] * 5
    assert all("requeued:at" in props for *_, props in found)
    assert "requeued 5 of 5 cancelled jobs" in first.log()
    assert scalar(toro_db, "SELECT count(*) FROM toro_processes") == 0
    with psycopg.connect(toro_db, autocommit=True) as conn:  # the next worker gets short ones
        conn.execute("UPDATE toro_jobs SET args = '[0.1]' WHERE id = ANY(%s)", (ids,))
    second = start_worker("-r", "durability_workers", "-c", "5")
    wait_for(lambda: _statuses(toro_db) == {"complete": 5}, timeout=20)
    assert set(rows(toro_db, "SELECT attempt, started_by FROM toro_jobs")) == {
        (2, _identity(second))
    }


def test_second_signal_stops_at_once_still_requeueing(toro_app, toro_db, start_worker):
    Sleep.perform_bulk([(30.0,)] * 3)
    SyncSleep.perform_bulk([(30.0,)] * 3)
    worker = start_worker("-r", "durability_workers", "-c", "6")  # default shutdown timeout: 25 s
    wait_for(lambda: _statuses(toro_db) == {"running": 6}, timeout=20)
    worker.signal(signal.SIGTERM)
    wait_for(lambda: "stopping gracefully" in worker.log(), timeout=5)
    time.sleep(0.5)
    assert worker.popen.poll() is None  # waiting for the jobs
    signalled_at = time.monotonic()
    worker.signal(signal.SIGINT)
    assert worker.popen.wait(timeout=10) == 0
    assert time.monotonic() - signalled_at < 3
    assert _statuses(toro_db) == {"queued": 6}
    assert scalar(toro_db, "SELECT count(*) FROM toro_jobs WHERE properties ? 'requeued:at'") == 6
    assert scalar(toro_db, "SELECT count(*) FROM toro_processes") == 0


def test_worker_comes_back_and_takes_its_recovered_jobs_again(
    toro_app, toro_db, start_worker, executions
):
    """Frozen past the timeout while its jobs run; a worker of another queue recovers them.

    Back, the process stops its stale attempts (others may run them now) and, as a new holder,
    claims the recovered jobs again: one accepted completion each, no mix-up of the attempts.
    """
    RecordedSleep.perform_bulk([(1, 5.0), (2, 5.0)])
    frozen = start_worker("-r", "durability_workers", "-c", "4", *FAST, env=executions)
    wait_for(lambda: scalar(toro_db, "SELECT count(*) FROM test_executions") == 2, timeout=20)
    frozen.signal(signal.SIGSTOP)
    start_worker("-r", "durability_workers", "-q", "elsewhere", *FAST, env=executions)
    wait_for(lambda: _statuses(toro_db) == {"queued": 2}, timeout=20)
    frozen.signal(signal.SIGCONT)
    wait_for(lambda: _statuses(toro_db) == {"complete": 2}, timeout=20)
    assert set(rows(toro_db, "SELECT attempt, started_by FROM toro_jobs")) == {
        (2, _identity(frozen))
    }
    assert rows(toro_db, "SELECT marker, count(*) FROM test_executions GROUP BY 1 ORDER BY 1") == [
        (1, 2),
        (2, 2),
    ]
    assert scalar(toro_db, "SELECT count(*) FROM test_completions") == 2
    log = frozen.log()
    assert "stopping 2 attempts claimed under" in log
    assert "Traceback" not in log
    assert frozen.stop() == 0


def test_a_claim_whose_answer_was_lost_is_handed_back(toro_app, toro_db, start_worker):
    """A claim can commit while its answer is lost to a broken connection: the database says
    the process holds a job it never heard of. The process finds and requeues such jobs."""
    worker = start_worker("-r", "durability_workers", *FAST)
    owner = wait_for(lambda: scalar(toro_db, "SELECT id FROM toro_processes"))
    with psycopg.connect(toro_db, autocommit=True) as conn:
        job_id = conn.execute(
            "INSERT INTO toro_jobs (class_name, args, status, started_at, started_by, locked_by,"
            " attempt) VALUES ('durability_workers.Sleep', '[0]', 'running', now(), %s, %s, 1)"
            " RETURNING id",
            (_identity(worker), owner),
        ).fetchone()[0]
    wait_for(lambda: _statuses(toro_db) == {"complete": 1}, timeout=10)
    props, attempt = rows(toro_db, "SELECT properties, attempt FROM toro_jobs")[0]
    assert props["recovered:from"] == _identity(worker) and attempt == 2
    assert f"jobs {job_id} were held under this process's id but not running here" in worker.log()


def test_registry_rows_busy_jobs_and_status_command(toro_app, toro_db, start_worker):
    ids = Sleep.perform_bulk([(30.0,)] * 2)
    worker = start_worker(
        "-r",
        "durability_workers",
        "-c",
        "3",
        "-q",
        "default",
        "-q",
        "other",
        "--shutdown-timeout",
        "0",
        *FAST,
    )
    wait_for(lambda: _statuses(toro_db) == {"running": 2}, timeout=20)
    [(host, pid, queues, concurrency, started, beat)] = rows(
        toro_db,
        "SELECT host, pid, queues, concurrency, started_at, heartbeat_at FROM toro_processes",
    )
    assert (host, pid, queues, concurrency) == (
        socket.gethostname(),
        worker.pid,
        ["default", "other"],
        3,
    )
    assert started <= beat
    wait_for(lambda: scalar(toro_db, "SELECT heartbeat_at FROM toro_processes") > beat, timeout=5)
    from toro_core.store import query

    with psycopg.connect(toro_db, autocommit=True) as conn:
        [listed] = conn.execute(query("list_processes")).fetchall()
    assert listed[2] == worker.pid and listed[-1] == ids

    env = {k: v for k, v in os.environ.items() if k != "TORO_DATABASE_URL"}
    command = [sys.executable, "-m", "toro_core", "status", "--database-url", toro_db]
    text = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=60, check=True
    ).stdout
    assert "1 live process(es)" in text
    assert f"{host}:{worker.pid}  queues=default,other  busy=2/3" in text
    assert re.search(r"default\s+running\s+2", text)
    data = json.loads(
        subprocess.run(
            [*command, "--json"], capture_output=True, text=True, env=env, timeout=60, check=True
        ).stdout
    )
    assert [(p["pid"], p["running"]) for p in data["processes"]] == [(worker.pid, ids)]
    assert data["counts"] == [{"queue": "default", "status": "running", "jobs": 2}]

    assert worker.stop() == 0  # clean exit: the row goes, the jobs go back to queued
    assert scalar(toro_db, "SELECT count(*) FROM toro_processes") == 0
    assert _statuses(toro_db) == {"queued": 2}


def test_sync_job_timeout_abandons_its_thread(toro_app, toro_db, start_worker):
    """A sync job cannot be stopped: past its timeout the attempt fails and frees its slot,
    while the thread runs on unseen until ``perform`` returns (the documented limit)."""
    stuck = SyncStuck.perform_async(30.0)
    after = SyncSleep.perform_async(0.1)  # gets the only thread slot
    worker = start_worker("-r", "durability_workers", "-c", "1")
    wait_for(lambda: _statuses(toro_db) == {"failed": 1, "complete": 1}, timeout=15)
    props, duration = rows(
        toro_db,
        "SELECT properties, extract(epoch FROM finished_at - started_at) FROM toro_jobs"
        " WHERE id = %s",
        (stuck.id,),
    )[0]
    assert props["error:class"] == "toro_core.errors.JobTimeout"
    assert "timeout of 0.5 s" in props["error:message"]
    assert 0.5 <= duration < 2
    assert scalar(toro_db, "SELECT status FROM toro_jobs WHERE id = %s", (after.id,)) == "complete"
    stopped_at = time.monotonic()
    assert worker.stop() == 0  # does not wait for the abandoned thread
    assert time.monotonic() - stopped_at < 5
    assert "1 abandoned job threads are still running" in worker.log()


def test_many_processes_recovering_at_once_requeue_each_job_once(toro_db):
    """recover_jobs run by many workers at the same moment: each dead job is requeued once,
    live processes and their jobs are untouched."""
    from toro_core.store import query

    with psycopg.connect(toro_db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO toro_processes (id, host, pid, queues, concurrency, heartbeat_at)"
            " SELECT gen_random_uuid(), 'h', n, '{default}', 100,"
            "        now() - CASE WHEN n <= 3 THEN interval '1 hour' ELSE interval '0' END"
            "   FROM generate_series(1, 4) AS n"
        )
        conn.execute(
            "INSERT INTO toro_jobs (class_name, status, started_at, started_by, locked_by, attempt)"
            " SELECT 'x.Y', 'running', now() - interval '1 hour', 'h:' || p.pid, p.id, 1"
            "   FROM toro_processes AS p, generate_series(1, 100)"
        )
    barrier = threading.Barrier(8)
    results: list[tuple[int, int]] = []

    def recover() -> None:
        with psycopg.connect(toro_db, autocommit=True) as conn:
            barrier.wait()
            dead, jobs, *_ = conn.execute(
                query("recover_jobs"), {"dead_after": 30, "max_recoveries": 3}
            ).fetchone()
            results.append((dead, jobs))

    threads = [threading.Thread(target=recover) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sum(dead for dead, _ in results) == 3 and sum(jobs for _, jobs in results) == 300
    assert scalar(toro_db, "SELECT pid FROM toro_processes") == 4
    assert _statuses(toro_db) == {"queued": 300, "running": 100}
    assert rows(
        toro_db,
        "SELECT properties->>'recovered:count', count(*) FROM toro_jobs"
        " WHERE status = 'queued' GROUP BY 1",
    ) == [("1", 300)]
    assert (
        scalar(
            toro_db,
            "SELECT count(*) FROM toro_jobs WHERE status = 'running' AND started_by = 'h:4'",
        )
        == 100
    )
