"""A job that kills its worker process is recovered at most --max-recoveries times, then fails.

The count is ``recovered:count`` in the job's properties; ``recovered:processes`` lists the
``started_by`` of each process that died under it.
"""

from __future__ import annotations

import socket

import psycopg
from hardening_workers import Crash

from toro_core.store import query
from toro_core.testing import rows, scalar, wait_for

#: Short enough for a quick test, long enough that a loaded machine does not make the rescuer
#: itself miss heartbeats (a gap over half of dead_after restarts its wait to judge others).
FAST = ("--heartbeat-interval", "0.5", "--dead-after", "3")


def _job(db: str, job_id: int) -> tuple:
    return rows(
        db,
        "SELECT status, attempt, properties FROM toro_jobs WHERE id = %s",
        (job_id,),
    )[0]


def test_a_job_that_kills_its_worker_fails_after_three_recoveries(toro_app, toro_db, start_worker):
    job = Crash.perform_async()
    # The rescuer serves another queue: it never runs the job, it only recovers it.
    rescuer = start_worker("-r", "hardening_workers", "-q", "elsewhere", *FAST)
    victims = []
    for round_ in range(1, 4):
        victim = start_worker("-r", "hardening_workers", "-q", "crash", *FAST, wait_ready=False)
        assert victim.popen.wait(timeout=60) == 1  # os._exit(1) inside the job
        victims.append(f"{socket.gethostname()}:{victim.pid}")
        wait_for(lambda: _job(toro_db, job.id)[0] != "running", timeout=60)
        status, attempt, props = _job(toro_db, job.id)
        assert attempt == round_ and props["recovered:count"] == round_
        assert props["recovered:processes"] == victims
        assert status == ("queued" if round_ < 3 else "failed")
    assert props["error:class"] == "toro_core.errors.WorkerDied"
    message = props["error:message"]
    assert "killed its worker process 3 times" in message
    assert all(victim in message for victim in victims)
    assert scalar(toro_db, "SELECT finished_at IS NOT NULL FROM toro_jobs") is True
    assert "failed instead of being recovered" in rescuer.log()
    # a fourth worker finds nothing to run
    survivor = start_worker("-r", "hardening_workers", "-q", "crash", *FAST)
    assert survivor.stop() == 0
    assert _job(toro_db, job.id)[:2] == ("failed", 3)
    assert rescuer.stop() == 0


def test_the_limit_comes_from_the_option_and_a_retry_starts_the_count_again(
    toro_app, toro_db, start_worker
):
    from toro_core.cli import main

    job = Crash.perform_async()
    rescuer = start_worker(
        "-r", "hardening_workers", "-q", "elsewhere", *FAST, env={"TORO_MAX_RECOVERIES": "1"}
    )
    victim = start_worker("-r", "hardening_workers", "-q", "crash", *FAST, wait_ready=False)
    victim.popen.wait(timeout=60)
    wait_for(lambda: _job(toro_db, job.id)[0] == "failed", timeout=60)
    assert _job(toro_db, job.id)[2]["recovered:count"] == 1
    assert main(["--database-url", toro_db, "jobs", "retry", str(job.id)]) == 0
    status, _, props = _job(toro_db, job.id)
    assert status == "queued" and "recovered:count" not in props
    assert "recovered:processes" not in props and "error:class" not in props
    assert rescuer.stop() == 0


def test_recovery_survives_hostile_counts_and_release_does_not_count(toro_db):
    """Rows written by other means (a count that is not a number) never break the recovery
    statement; a job handed back by its own live process (a lost claim) is not a death."""
    with psycopg.connect(toro_db, autocommit=True) as conn:
        ids = [
            conn.execute(
                "INSERT INTO toro_jobs (class_name, status, started_at, started_by, locked_by,"
                " attempt, properties) VALUES ('x.Y', 'running', now() - interval '1 hour',"
                " 'h:1', gen_random_uuid(), 1, %s::jsonb) RETURNING id",
                (props,),
            ).fetchone()[0]
            for props in (
                '{"recovered:count": "many", "recovered:processes": {"not": "a list"}}',
                '{"recovered:count": 1e40}',
                '{"recovered:count": 2, "recovered:processes": ["a:1", "b:2"]}',
            )
        ]
        dead, recovered, _, failed = conn.execute(
            query("recover_jobs"), {"dead_after": 30, "max_recoveries": 3}
        ).fetchone()
    assert (dead, recovered, failed) == (0, 2, [ids[2]])
    found = {
        row[0]: row[1:]
        for row in rows(
            toro_db,
            "SELECT id, status, properties->'recovered:count', properties->'recovered:processes'"
            " FROM toro_jobs",
        )
    }
    assert found[ids[0]] == ("queued", 1, ["h:1"])
    assert found[ids[1]] == ("queued", 1, ["h:1"])
    assert found[ids[2]] == ("failed", 3, ["a:1", "b:2", "h:1"])
    message = scalar(
        toro_db, "SELECT properties->>'error:message' FROM toro_jobs WHERE id = %s", (ids[2],)
    )
    assert message.startswith("the job killed its worker process 3 times (a:1, b:2, h:1)")

    with psycopg.connect(toro_db, autocommit=True) as conn:
        owner = conn.execute(
            "INSERT INTO toro_processes (id, host, pid, queues, concurrency) VALUES"
            " (gen_random_uuid(), 'h', 9, '{default}', 1) RETURNING id"
        ).fetchone()[0]
        conn.execute(
            "UPDATE toro_jobs SET status = 'running', locked_by = %s WHERE id = %s",
            (owner, ids[0]),
        )
        conn.execute(query("release_unknown_jobs"), {"owner": owner, "known": []})
    assert (
        scalar(
            toro_db, "SELECT properties->'recovered:count' FROM toro_jobs WHERE id = %s", (ids[0],)
        )
        == 1
    )
