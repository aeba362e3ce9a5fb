"""Flow control: concurrency limits per class, per key and per queue, and rate limits, with
four worker processes at c=10 started through the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest
from limit_workers import (
    RUNS_TABLE,
    FiftyPerSecond,
    Free,
    OnePerCustomer,
    TenPerSecondPerCustomer,
    ThreeAtATime,
    ThreeByPriority,
)

from toro_core.testing import rows, run_toro, scalar, wait_for

WORKER_ARGS = ("-r", "limit_workers", "-c", "10")


@pytest.fixture
def db(toro_app, toro_db):
    with psycopg.connect(toro_db, autocommit=True) as conn:
        conn.execute(RUNS_TABLE)
    return toro_db


def runs(db: str, key: str | None = None) -> list[tuple[float, float]]:
    sql = "SELECT started, ended FROM limit_runs"
    return rows(db, sql + (" WHERE key = %s" if key else ""), (key,) if key else None)


def most_at_once(spans: list[tuple[float, float]]) -> int:
    """The most spans that overlap at any moment."""
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def busiest_second(starts: list[float]) -> int:
    """The most starts in any window of one second (closed at both ends)."""
    starts = sorted(starts)
    most, left = 0, 0
    for right, at in enumerate(starts):
        while at - starts[left] > 1.0:
            left += 1
        most = max(most, right - left + 1)
    return most


def count(db: str, status: str) -> int:
    return int(scalar(db, "SELECT count(*) FROM toro_jobs WHERE status = %s", (status,)))


def test_a_class_limit_holds_across_four_processes(db, start_worker):
    ThreeAtATime.perform_bulk([(0.2,)] * 200)
    for _ in range(4):
        start_worker(*WORKER_ARGS)
    wait_for(lambda: count(db, "complete") == 200, timeout=60)
    spans = runs(db)
    assert most_at_once(spans) == 3
    took = max(e for _, e in spans) - min(s for s, _ in spans)  # first start to last end
    ideal = 200 * 0.2 / 3
    assert took <= ideal * 1.25, f"{took:.1f}s against {ideal:.1f}s"


def test_a_limit_per_key_runs_the_keys_in_parallel(db, start_worker):
    OnePerCustomer.perform_bulk([(customer, 0.1) for customer in "abc" for _ in range(20)])
    for _ in range(4):
        start_worker(*WORKER_ARGS)
    wait_for(lambda: count(db, "complete") == 60, timeout=60)
    for customer in "abc":
        assert most_at_once(runs(db, customer)) == 1, customer
    assert most_at_once(runs(db)) == 3  # one of each at a time, side by side


def test_a_rate_limit_holds_in_every_second(db, start_worker):
    FiftyPerSecond.perform_bulk([(n,) for n in range(400)])
    for _ in range(4):
        start_worker(*WORKER_ARGS)
    wait_for(lambda: count(db, "complete") == 400, timeout=30)
    starts = [s for s, _ in runs(db)]
    assert max(e for _, e in runs(db)) - min(starts) < 10, "400 starts at 50/s took too long"
    # a start is the claim: started_at, by the database's clock (perform itself begins a few
    # milliseconds later in its slot, a jitter the limit does not promise to hide)
    claimed = [
        float(t) for (t,) in rows(db, "SELECT extract(epoch FROM started_at) FROM toro_jobs")
    ]
    assert busiest_second(claimed) <= 50
    assert busiest_second(claimed) >= 40  # and it does use the rate


def test_a_full_limit_does_not_delay_other_jobs_of_the_queue(db, start_worker):
    ThreeAtATime.perform_bulk([(2.0,)] * 30)  # full for 20 s
    Free.perform_bulk([(n,) for n in range(50)])  # behind them in the queue
    for _ in range(4):
        start_worker(*WORKER_ARGS)
    wait_for(lambda: len(runs(db, "free")) == 50, timeout=10)
    first_limited = scalar(
        db,
        "SELECT extract(epoch FROM min(started_at)) FROM toro_jobs"
        " WHERE class_name = 'limit_workers.ThreeAtATime'",
    )
    # every free job ran before the first limited ones ended (2 s): none waited behind them
    assert max(e for _, e in runs(db, "free")) < float(first_limited) + 2.0
    assert count(db, "running") <= 3


def test_priorities_order_what_a_limit_lets_run(db, start_worker):
    ThreeByPriority.perform_bulk([("low", 0.3)] * 6)
    ThreeByPriority.set(priority=10).perform_bulk([("high", 0.3)] * 6)
    start_worker(*WORKER_ARGS)
    wait_for(lambda: count(db, "complete") == 12, timeout=30)
    assert max(s for s, _ in runs(db, "high")) < min(s for s, _ in runs(db, "low"))
    assert most_at_once(runs(db)) == 3


def test_a_rate_limit_per_key_holds_for_each_key_and_keys_run_side_by_side(db, start_worker):
    TenPerSecondPerCustomer.perform_bulk([(c, n) for n in range(30) for c in "abc"])
    for _ in range(4):
        start_worker(*WORKER_ARGS)
    wait_for(lambda: count(db, "complete") == 90, timeout=30)
    claimed = rows(db, "SELECT args->>0, extract(epoch FROM started_at) FROM toro_jobs")
    for customer in "abc":
        assert busiest_second([float(t) for c, t in claimed if c == customer]) <= 10, customer
    assert busiest_second([float(t) for _, t in claimed]) > 10  # the keys share no budget


def test_queue_limit_set_at_run_time(db, start_worker, toro_db):
    cli = [sys.executable, "-m", "toro_core", "queues", "limit", "default"]
    env = {**os.environ, "TORO_DATABASE_URL": toro_db, "TORO_PLUGINS": ""}
    done = subprocess.run([*cli, "--concurrency", "2"], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and "at most 2" in done.stdout, done.stderr
    OnePerCustomer.perform_bulk([(f"c{n}", 0.3) for n in range(12)])  # all different keys
    for _ in range(2):
        start_worker(*WORKER_ARGS)
    wait_for(lambda: count(db, "complete") == 12, timeout=30)
    assert most_at_once(runs(db)) == 2
    cleared = subprocess.run([*cli, "--clear"], env=env, capture_output=True, text=True)
    assert "no concurrency limit" in cleared.stdout
    OnePerCustomer.perform_bulk([(f"d{n}", 0.5) for n in range(12)])
    wait_for(lambda: count(db, "complete") == 24, timeout=30)
    later = rows(db, "SELECT started, ended FROM limit_runs WHERE key LIKE %s", ("d%",))
    assert len(later) == 12
    assert most_at_once(later) > 2


def test_a_killed_process_frees_its_slots_and_the_limit_holds(db, start_worker):
    ThreeAtATime.perform_bulk([(1.0,)] * 12)
    args = (*WORKER_ARGS, "--heartbeat-interval", "0.5", "--dead-after", "2")
    victim = start_worker(*args)
    wait_for(lambda: scalar(db, "SELECT count(*) FROM toro_jobs WHERE status = 'running'") == 3)
    victim.popen.send_signal(signal.SIGKILL)
    victim.popen.wait()
    for _ in range(3):
        start_worker(*args)
    wait_for(lambda: count(db, "complete") == 12, timeout=60)
    assert most_at_once(runs(db)) <= 3
    assert scalar(db, "SELECT count(*) FROM toro_limit_slots WHERE job_id IS NOT NULL") == 0
    recovered = scalar(db, "SELECT count(*) FROM toro_jobs WHERE properties ? 'recovered:at'")
    assert recovered == 3


def test_a_queue_slot_freed_by_a_stopping_process_wakes_the_others(db, start_worker, toro_db):
    """A worker that stops frees its queue-limit slot and claims nothing more: another worker,
    polling only every 30 s, is woken by the freed slot and takes the next job at once."""
    limited = run_toro("queues", "limit", "default", "--concurrency", "1", database_url=toro_db)
    assert limited.returncode == 0, limited.stderr
    OnePerCustomer.perform_bulk([("first", 1.0), ("second", 0.1)])
    first = start_worker(*WORKER_ARGS, "--poll-interval", "30")
    wait_for(lambda: count(db, "running") == 1)
    second = start_worker(*WORKER_ARGS, "--poll-interval", "30")
    time.sleep(0.5)  # both idle now: the second waits for a wake-up or its poll
    assert first.stop() == 0  # lets the running job finish, frees its slot, claims no more
    wait_for(lambda: count(db, "complete") == 2, timeout=10)
    (first_end,) = [e for k, s, e in rows(db, "SELECT * FROM limit_runs") if k == "first"]
    (second_start,) = [s for k, s, e in rows(db, "SELECT * FROM limit_runs") if k == "second"]
    assert second_start - first_end < 5, "the second job waited for a poll"
    assert second.log().count("running: queues") == 1


def test_the_plain_claim_steps_aside_whenever_a_limit_is_in_play(db, toro_db):
    """The claim without the limits' steps takes only what no limit governs; a limited job
    among the ones it would take, or a limit on the queue, makes it claim nothing and say so
    (the worker then runs the claim that knows the limits)."""
    import anyio

    from toro_core.store import CoreStore, aconnect

    async def claim(plain: bool) -> list[int] | None:
        conn = await aconnect(toro_db)
        async with conn:
            store = CoreStore(connection=conn)
            owner = "00000000-0000-0000-0000-0000000000cc"
            await conn.execute(
                "INSERT INTO toro_processes (id, host, pid, queues, concurrency)"
                " VALUES (%s, 'h', 1, '{default}', 10) ON CONFLICT DO NOTHING",
                (owner,),
            )
            jobs = await store.claim(
                queues=["default"], after=(-101, 0), limit=5, owner=owner, started_by="h:1",
                plain=plain,
            )  # fmt: skip
            return None if jobs is None else [job.id for job in jobs]

    free = Free.perform_bulk([(n,) for n in range(3)])
    assert anyio.run(claim, True) == free  # nothing limited: the plain claim takes them
    limited = ThreeAtATime.set(priority=5).perform_async(0.0).id
    Free.perform_bulk([(n,) for n in range(3)])
    assert anyio.run(claim, True) is None  # a limited job among them: it steps aside
    taken = anyio.run(claim, False)
    assert taken is not None and taken[0] == limited  # the full claim: priority first
    Free.perform_bulk([(n,) for n in range(2)])
    done = run_toro("queues", "limit", "default", "--concurrency", "9", database_url=toro_db)
    assert done.returncode == 0, done.stderr
    assert anyio.run(claim, True) is None  # a limit on the queue: it steps aside too
