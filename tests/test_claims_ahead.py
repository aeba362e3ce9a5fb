"""Claims ahead: while attempts are short the claimer takes up to ``AHEAD_FACTOR`` jobs per
slot more than the slots run, and gives back to the queue (attempt not counted) what waited
too long behind a slow job, or what no slot started when the process stops."""

from __future__ import annotations

import pytest
from workers_basic import Noop, SleepAsync, SleepSync

from toro_core.runtime import claimer as claimer_module
from toro_core.runtime import slots as slots_module
from toro_core.testing import rows, scalar, wait_for


def _status(toro_db: str, job_id: int) -> tuple[str, int]:
    found = rows(toro_db, "SELECT status, attempt FROM toro_jobs WHERE id = %s", (job_id,))
    return found[0][0], found[0][1]


def _wait_complete(toro_db: str, count: int) -> None:
    wait_for(
        lambda: (
            scalar(toro_db, "SELECT count(*) FROM toro_jobs WHERE status = 'complete'") == count
        ),
        timeout=60,
    )


def _count_held(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many claims the worker holds after each claim (running or waiting for a slot)."""
    held: list[int] = []
    submit = slots_module.Slots.submit

    def counting_submit(self, jobs, owner):
        submit(self, jobs, owner)
        held.append(len(self.running))

    monkeypatch.setattr(slots_module.Slots, "submit", counting_submit)
    return held


def test_short_jobs_are_claimed_ahead_and_each_runs_once(toro_app, toro_db, monkeypatch):
    held = _count_held(monkeypatch)
    Noop.perform_bulk([(i,) for i in range(1500)])
    with toro_app.background_worker(concurrency=2):
        _wait_complete(toro_db, 1500)
    # up to AHEAD_FACTOR per slot ahead of the 2 slots, never more; more than one slot's
    # worth ahead at some point (one statement claims for several slots)
    assert 2 + 2 < max(held) <= 2 + 2 * claimer_module.AHEAD_FACTOR
    assert scalar(toro_db, "SELECT array_agg(DISTINCT attempt) FROM toro_jobs") == [1]


def _queue_behind_a_slow_job(seconds: float) -> tuple[int, int]:
    """Enough no-op jobs to show attempts are short, a slow one, then one more no-op."""
    Noop.perform_bulk([(i,) for i in range(80)])
    slow = SleepAsync.perform_async(seconds)
    after = Noop.perform_async("after the slow one")
    return slow.id, after.id


def test_a_job_claimed_ahead_behind_a_slow_one_goes_back_to_the_queue(toro_app, toro_db):
    slow, after = _queue_behind_a_slow_job(3.0)
    with toro_app.background_worker(concurrency=1, shutdown_timeout=10):
        # claimed ahead with the slow job (or right after it)...
        wait_for(lambda: _status(toro_db, after) == ("running", 1), timeout=30)
        assert _status(toro_db, slow)[0] == "running"
        # ...then given back unstarted: queued, and the claim's attempt taken back
        wait_for(lambda: _status(toro_db, after) == ("queued", 0), timeout=2.5)
        assert _status(toro_db, slow)[0] == "running"
        wait_for(lambda: _status(toro_db, after)[0] == "complete", timeout=30)
    assert _status(toro_db, after) == ("complete", 1)
    assert _status(toro_db, slow) == ("complete", 1)


def test_a_stop_gives_back_the_jobs_no_slot_started(toro_app, toro_db, monkeypatch):
    monkeypatch.setattr(claimer_module, "GIVE_BACK_AFTER", 30.0)  # only the stop gives back
    slow, after = _queue_behind_a_slow_job(30.0)
    with toro_app.background_worker(concurrency=1, shutdown_timeout=0.5):
        wait_for(lambda: _status(toro_db, after)[0] == "running", timeout=30)  # claimed ahead
        assert _status(toro_db, slow)[0] == "running"
    # the slow job was cut at the stop and requeued (its attempt stays counted); the one
    # claimed ahead was never started: queued again, as if never claimed
    assert _status(toro_db, after) == ("queued", 0)
    assert _status(toro_db, slow) == ("queued", 1)


def test_jobs_slower_than_the_bar_get_no_claims_ahead(toro_app, toro_db, monkeypatch):
    held = _count_held(monkeypatch)
    SleepAsync.perform_bulk([(0.05,) for _ in range(30)])
    with toro_app.background_worker(concurrency=2):
        _wait_complete(toro_db, 30)
    assert max(held) <= 2


def test_an_idle_worker_starts_a_new_job_before_it_claims_again(toro_app, toro_db, monkeypatch):
    from toro_core.store import core as store_module

    events: list[tuple[str, int]] = []
    claim, run = store_module.CoreStore.claim, slots_module.Slots._run

    async def recording_claim(self, **kwargs):
        events.append(("claim sent", 0))
        jobs = await claim(self, **kwargs)
        events.append(("claimed", len(jobs or [])))
        return jobs

    async def recording_run(self, item):
        events.append(("slot took", item.job.id))
        await run(self, item)

    monkeypatch.setattr(store_module.CoreStore, "claim", recording_claim)
    monkeypatch.setattr(slots_module.Slots, "_run", recording_run)
    with toro_app.background_worker(concurrency=4):
        wait_for(lambda: ("claimed", 0) in events, timeout=10)  # idle: the queue is empty
        jobs = [Noop.perform_async(i).id for i in range(3)]
        wait_for(
            lambda: scalar(toro_db, "SELECT count(*) FROM toro_jobs WHERE status = 'complete'") == 3
        )
    for index, (kind, count) in enumerate(events):
        if kind == "claimed" and count:
            # the claim that found the queue dry: its jobs go to the slots before the next
            # statement is sent
            following = [event for event in events[index + 1 :] if event[0] != "claimed"]
            assert [e[0] for e in following[:count]] == ["slot took"] * count, events
    assert {job_id for kind, job_id in events if kind == "slot took"} == set(jobs)


def test_sync_jobs_are_claimed_for_several_slots_at_once(toro_app, toro_db, monkeypatch):
    """``def perform`` jobs free their slots a thread's batch at a time; the claimer waits (a
    moment at most) for half of what the slots take before it claims, not for one batch."""
    from toro_core.store import core as store_module

    sizes: list[int] = []
    claim = store_module.CoreStore.claim

    async def recording_claim(self, **kwargs):
        jobs = await claim(self, **kwargs)
        sizes.append(len(jobs or []))
        return jobs

    monkeypatch.setattr(store_module.CoreStore, "claim", recording_claim)
    SleepSync.perform_bulk([(0,) for _ in range(1500)])
    with toro_app.background_worker(concurrency=2):
        _wait_complete(toro_db, 1500)
    full = sorted(size for size in sizes if size)
    # half of 2 slots and 8 ahead is 5: most claims take at least that (2, a thread's batch,
    # when the claimer claimed as soon as any slot freed)
    assert full[len(full) // 2] >= 4, full
