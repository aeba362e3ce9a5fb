"""Job control: keyword arguments and per-call options, priorities, unique jobs, cancellation,
pause and resume, snooze; worker processes started through the CLI."""

from __future__ import annotations

import functools
import json
import threading
import time
from datetime import timedelta

import psycopg
import pytest
import toro_retry.plugin
from control_workers import (
    RUNS_TABLE,
    KeywordJob,
    LongAsync,
    LongSync,
    Ordered,
    Paused,
    PerCustomer,
    Snoozer,
    UniqueReport,
)

from toro_core import Call, Snooze
from toro_core.store import query
from toro_core.testing import as_default, rows, run_toro, scalar, wait_for


@pytest.fixture
def app(make_app, toro_db):
    with psycopg.connect(toro_db, autocommit=True) as conn:
        conn.execute(RUNS_TABLE)
    with as_default(make_app(plugins=[toro_retry.plugin])) as app:
        yield app


@pytest.fixture
def cli(toro_db):
    """``cli(*args)``: run ``toro-core *args`` on this test's database."""
    return functools.partial(run_toro, database_url=toro_db, plugins=["retry"])


def runs(db: str, key: str) -> int:
    return int(scalar(db, "SELECT count(*) FROM control_runs WHERE key = %s", (key,)))


def status(db: str, job_id: int) -> str:
    return str(scalar(db, "SELECT status FROM toro_jobs WHERE id = %s", (job_id,)))


def worker(start_worker, *args: str):
    return start_worker("-r", "control_workers", *args, plugins=["retry"])


# ------------------------------------------------------------------ arguments and options


def test_keyword_arguments_reach_perform_and_are_stored(app, toro_db, start_worker):
    job = KeywordJob.perform_async("kw", user_id=3, tags=["a", "b"])
    assert job.kwargs == {"user_id": 3, "tags": ["a", "b"]} and job.args == ["kw"]
    assert scalar(toro_db, "SELECT kwargs->>'user_id' FROM toro_jobs WHERE id = %s", (job.id,))
    bulk = KeywordJob.perform_bulk([Call("b1", user_id=1), Call("b2", user_id=2, tags=[])])
    worker(start_worker)
    wait_for(lambda: all(status(toro_db, i) == "complete" for i in [job.id, *bulk]))
    recorded = rows(toro_db, "SELECT key, data FROM control_runs ORDER BY key")
    assert recorded == [
        ("b1", {"user_id": 1, "tags": None}),
        ("b2", {"user_id": 2, "tags": []}),
        ("kw", {"user_id": 3, "tags": ["a", "b"]}),
    ]


def test_bad_keyword_arguments_and_options_are_refused_naming_them(app, toro_db):
    with pytest.raises(TypeError, match=r"keyword argument 'when' is a datetime\.datetime"):
        KeywordJob.perform_async("x", user_id=1, when=__import__("datetime").datetime.now())
    with psycopg.connect(toro_db) as conn:
        with pytest.raises(TypeError, match=r"\.set\(connection="):
            KeywordJob.perform_async("x", user_id=1, connection=conn)
    with pytest.raises(TypeError, match=r"unknown option\(s\) prority"):
        KeywordJob.set(prority=3)
    with pytest.raises(ValueError, match=r"set\(priority=\.\.\.\) must be from -100 to 100"):
        KeywordJob.set(priority=101).perform_async("x", user_id=1)
    with pytest.raises(TypeError, match=r"set\(priority=\.\.\.\) must be an int"):
        KeywordJob.set(priority="high").perform_async("x", user_id=1)
    with pytest.raises(ValueError, match="0 or more seconds"):
        Snooze(-1)
    assert scalar(toro_db, "SELECT count(*) FROM toro_jobs") == 0


def test_set_overrides_queue_and_priority_for_one_call(app, toro_db):
    urgent = Ordered.set(queue="urgent", priority=10)
    job = urgent.perform_async("u")
    later = urgent.set(priority=-5).perform_in(timedelta(hours=1), "later")
    plain = Ordered.perform_async("p")
    assert (job.queue, job.priority) == ("urgent", 10)
    assert (later.queue, later.priority, later.status) == ("urgent", -5, "scheduled")
    assert (plain.queue, plain.priority) == ("default", 0)
    ids = Ordered.set(priority=3).perform_bulk([("a",), ("b",)])
    assert rows(toro_db, "SELECT DISTINCT priority FROM toro_jobs WHERE id = ANY(%s)", (ids,)) == [
        (3,)
    ]


# ------------------------------------------------------------------ priorities


@pytest.mark.parametrize("queues", [["-q", "default"], ["-q", "default", "-q", "other"]])
def test_higher_priority_jobs_start_first(app, toro_db, start_worker, queues):
    Ordered.perform_bulk([(f"low-{i}",) for i in range(50)])
    Ordered.set(priority=10, queue=queues[-1]).perform_bulk([(f"high-{i}",) for i in range(50)])
    worker(start_worker, "-c", "1", *queues)
    wait_for(lambda: scalar(toro_db, "SELECT count(*) FROM control_runs") == 100, timeout=60)
    last_high, first_low = rows(
        toro_db,
        "SELECT max(started_at) FILTER (WHERE priority = 10),"
        " min(started_at) FILTER (WHERE priority = 0) FROM toro_jobs",
    )[0]
    assert last_high < first_low


def test_the_claim_walks_an_index_in_priority_order(app, toro_db):
    """EXPLAIN of the worker's own claim statement, with history in the table: the queued jobs
    are read from the priority index in its order, never by a scan of the table."""
    with psycopg.connect(toro_db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO toro_jobs (class_name, priority, status)"
            " SELECT 'x.Y', (g % 5) * 10, CASE WHEN g % 10 = 0 THEN 'queued' ELSE 'complete' END"
            " FROM generate_series(1, 100000) g"
        )
        conn.execute("ANALYZE toro_jobs")
        params = {
            "queue": "default",
            "queues": ["default"],
            "after_rank": -101,
            "after": 0,
            "limit": 10,
            "owner": "00000000-0000-0000-0000-000000000000",
            "started_by": "test",
            "relaxed": False,
        }
        plan = "\n".join(row[0] for row in conn.execute("EXPLAIN " + query("claim_jobs"), params))
    assert "Index Scan using toro_jobs_queued_by_priority on toro_jobs" in plan, plan
    assert "Seq Scan on toro_jobs" not in plan, plan


# ------------------------------------------------------------------ unique jobs


def test_concurrent_enqueues_of_one_key_make_one_job(app, toro_db, start_worker):
    jobs, errors = [], []

    def enqueue() -> None:
        try:
            for _ in range(50):
                jobs.append(UniqueReport.perform_async("2026-12-01", 1.0))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=enqueue) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(jobs) == 400
    assert scalar(toro_db, "SELECT count(*) FROM toro_jobs") == 1
    assert len({job.id for job in jobs}) == 1
    assert sum(1 for job in jobs if not job.duplicate) == 1
    # while it runs, still one; once it finished, the key is free again
    worker(start_worker)
    wait_for(lambda: status(toro_db, jobs[0].id) == "running")
    assert UniqueReport.perform_async("2026-12-01", 1.0).duplicate
    wait_for(lambda: status(toro_db, jobs[0].id) == "complete")
    again = UniqueReport.perform_async("2026-12-01", 1.0)
    assert not again.duplicate and again.id != jobs[0].id
    assert UniqueReport.perform_async("2026-12-02").id != again.id  # other arguments


def test_unique_key_method_and_bulk(app, toro_db):
    first = PerCustomer.perform_async(7, "a")
    assert PerCustomer.perform_async(7, "b").id == first.id  # the key ignores the note
    assert PerCustomer.perform_async(0).id != PerCustomer.perform_async(0).id  # None: no key
    ids = PerCustomer.perform_bulk([(7,), (8,), (8, "again"), (9,), (0,), (0,)])
    assert ids[0] == first.id and ids[1] == ids[2] and len(set(ids)) == 5
    # each new id is the row of its own item (plain rows and unique ones interleaved)
    written = dict(rows(toro_db, "SELECT id, args FROM toro_jobs WHERE id = ANY(%s)", (ids,)))
    assert [written[i] for i in (ids[1], ids[3], ids[4], ids[5])] == [[8], [9], [0], [0]]
    more = PerCustomer.perform_bulk([(0, "x"), (10,), (0, "y"), (8,), (11,), (0, "z")])
    assert more[3] == ids[1] and len(set(more)) == 6
    got = dict(rows(toro_db, "SELECT id, args FROM toro_jobs WHERE id = ANY(%s)", (more,)))
    assert [got[i] for i in more] == [[0, "x"], [10], [0, "y"], [8], [11], [0, "z"]]
    keys = rows(toro_db, "SELECT unique_key FROM toro_jobs WHERE unique_key IS NOT NULL ORDER BY 1")
    expected = [f"control_workers.PerCustomer:customer-{n}" for n in (10, 11, 7, 8, 9)]
    assert [k for (k,) in keys] == expected


# ------------------------------------------------------------------ cancellation


def test_a_cancelled_queued_job_never_runs(app, toro_db, start_worker):
    job = Ordered.perform_async("never")
    scheduled = Ordered.perform_in(3600, "never-later")
    assert app.cancel(job.id, scheduled.id, 999_999) == {
        job.id: "cancelled",
        scheduled.id: "cancelled",
    }
    Ordered.perform_async("after")
    worker(start_worker)
    wait_for(lambda: runs(toro_db, "after") == 1)
    assert runs(toro_db, "never") == 0 and status(toro_db, job.id) == "cancelled"
    assert app.cancel(job.id) == {job.id: "cancelled"}  # already: left alone


def test_cancel_a_running_async_job_from_the_cli(app, toro_db, start_worker, cli):
    job = LongAsync.perform_async("long", 30)
    worker(start_worker)
    wait_for(lambda: runs(toro_db, "long") == 1)
    started = time.monotonic()
    out = cli("jobs", "cancel", str(job.id))
    assert out.returncode == 0 and "its process stops it" in out.stdout, out
    wait_for(lambda: status(toro_db, job.id) == "cancelled", timeout=5)
    assert time.monotonic() - started < 3
    time.sleep(2)  # a retry (retry_interval 1 s) would have run by now
    assert status(toro_db, job.id) == "cancelled" and runs(toro_db, "long") == 1
    row = app.job(job.id)
    assert row is not None and row.attempt == 1 and "retry:errors" not in row.properties
    assert runs(toro_db, "long:finished") == 0


def test_cancel_a_running_sync_job_discards_its_result(app, toro_db, start_worker):
    job = LongSync.perform_async("sync", 2)
    worker(start_worker)
    wait_for(lambda: runs(toro_db, "sync") == 1)
    assert app.cancel(job.id) == {job.id: "requested"}
    wait_for(lambda: status(toro_db, job.id) == "cancelled", timeout=5)
    wait_for(lambda: runs(toro_db, "sync:finished") == 1)  # the thread ran on
    assert status(toro_db, job.id) == "cancelled"


# ------------------------------------------------------------------ pause and resume


def test_a_paused_queue_waits_and_resumes(app, toro_db, start_worker, cli):
    assert cli("queues", "pause", "pausable").stdout.strip() == "queue pausable: paused"
    ids = Paused.perform_bulk([(f"p{i}",) for i in range(20)])
    Ordered.perform_async("other-queue")
    for _ in range(2):
        worker(start_worker, "-q", "pausable", "-q", "default")
    wait_for(lambda: runs(toro_db, "other-queue") == 1)
    time.sleep(5)
    assert scalar(toro_db, "SELECT count(*) FROM toro_jobs WHERE status = 'queued'") == 20
    listed = cli("queues", "list").stdout
    assert "pausable" in listed and "paused" in listed
    assert cli("queues", "resume", "pausable").stdout.strip() == "queue pausable: resumed"
    wait_for(lambda: all(status(toro_db, i) == "complete" for i in ids), timeout=10)


def test_a_pause_reaches_running_workers_at_once(app, toro_db, start_worker, cli):
    first = Paused.perform_async("before").id
    worker(start_worker, "-q", "pausable")
    wait_for(lambda: status(toro_db, first) == "complete")
    report = {q["name"]: q for q in json.loads(cli("queues", "list", "--json").stdout)}
    assert report["pausable"]["processes"] == 1 and not report["pausable"]["paused"]
    assert cli("queues", "pause", "pausable").returncode == 0
    later = Paused.perform_bulk([(f"later{i}",) for i in range(5)])  # their ids
    time.sleep(3)  # more than the ~2 s a pause may take to be obeyed
    assert [status(toro_db, i) for i in later] == ["queued"] * 5
    assert cli("queues", "resume", "pausable").returncode == 0
    wait_for(lambda: all(status(toro_db, i) == "complete" for i in later), timeout=10)


def test_queues_list_warns_of_a_queue_nobody_serves(app, toro_db, cli):
    Paused.perform_async("orphan")
    out = cli("queues", "list")
    assert out.returncode == 0
    line = next(line for line in out.stdout.splitlines() if "pausable" in line)
    assert line.startswith("!") and "no live process" in out.stdout


# ------------------------------------------------------------------ snooze


def test_snoozing_spends_no_attempt(app, toro_db, start_worker):
    plain = Snoozer.perform_async("twice", 2)
    # max_attempts is 2: with the two snoozes counted, the failure would be the last try
    failing_once = Snoozer.perform_async("then-fails", 2, 1)
    worker(start_worker)
    wait_for(lambda: status(toro_db, plain.id) == "complete", timeout=20)
    wait_for(lambda: status(toro_db, failing_once.id) == "complete", timeout=20)
    job = app.job(plain.id)
    assert job is not None
    assert (job.attempt, job.snoozes, job.spent_attempts) == (3, 2, 1)
    assert job.properties["snooze:seconds"] == 0.2
    other = app.job(failing_once.id)
    assert other is not None and (other.attempt, other.spent_attempts) == (4, 2)
    assert len(other.properties["retry:errors"]) == 1
