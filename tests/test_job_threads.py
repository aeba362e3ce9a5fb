"""The threads sync ``perform`` runs in: batches, spreading slow jobs, giving up, errors."""

from __future__ import annotations

import contextvars
import threading
import time
from typing import Any

import anyio
import pytest

from toro_core.runtime.threads import SPREAD_AFTER, THREAD_NAME, JobThreads

LABEL: contextvars.ContextVar[str] = contextvars.ContextVar("label")


def live_job_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == THREAD_NAME and t.is_alive())


async def run_all(threads: JobThreads, functions: list[Any]) -> list[Any]:
    """Start every call in the same turn of the loop (as slots do after one claim)."""
    results: list[Any] = [None] * len(functions)

    async def one(index: int) -> None:
        results[index] = await threads.run(functions[index])

    async with anyio.create_task_group() as group:
        for index in range(len(functions)):
            group.start_soon(one, index)
    return results


def test_quick_calls_started_together_run_in_one_thread_in_order() -> None:
    threads = JobThreads()
    seen: list[tuple[int, int]] = []

    def call(index: int) -> Any:
        return lambda: seen.append((index, threading.get_ident())) or index * 2

    results = anyio.run(run_all, threads, [call(i) for i in range(10)])
    threads.close()
    assert results == [i * 2 for i in range(10)]
    assert [index for index, _ in seen] == list(range(10))
    assert len({ident for _, ident in seen}) == 1


def test_jobs_behind_a_slow_one_are_spread_over_other_threads() -> None:
    threads = JobThreads()
    finished: dict[str, float] = {}
    start = time.monotonic()

    def slow() -> str:
        time.sleep(0.5)
        finished["slow"] = time.monotonic() - start
        return "slow"

    def quick(name: str) -> Any:
        def run() -> str:
            time.sleep(0.05)  # blocks like I/O: these run side by side once spread
            finished[name] = time.monotonic() - start
            return name

        return run

    names = [f"q{i}" for i in range(5)]
    results = anyio.run(run_all, threads, [slow, *(quick(n) for n in names)])
    threads.close()
    assert results == ["slow", *names]
    assert finished["slow"] >= 0.5
    # spread after SPREAD_AFTER, then side by side: all five well before the slow one ends
    assert max(finished[n] for n in names) < 0.3, finished
    assert SPREAD_AFTER < 0.05


def test_short_blocking_jobs_started_together_run_side_by_side() -> None:
    """Ten jobs that each block 5 ms (a quick query, a local HTTP call): the batch is spread
    after SPREAD_AFTER, so they take far less than ten times 5 ms."""
    threads = JobThreads()
    start = time.monotonic()
    results = anyio.run(run_all, threads, [lambda: time.sleep(0.005) for _ in range(10)])
    elapsed = time.monotonic() - start
    threads.close()
    assert results == [None] * 10
    assert elapsed < 0.035, elapsed


def test_a_call_given_up_before_it_started_never_runs() -> None:
    threads = JobThreads()
    ran: list[str] = []

    async def main() -> None:
        async with anyio.create_task_group() as group:

            async def first() -> None:
                await threads.run(lambda: (time.sleep(0.3), ran.append("first")))

            async def second() -> None:
                with anyio.move_on_after(0.001):  # given up while the first one runs
                    await threads.run(lambda: ran.append("second"))

            group.start_soon(first)
            group.start_soon(second)
        await anyio.sleep(0.05)

    anyio.run(main)
    threads.close()
    assert ran == ["first"]


def test_a_call_given_up_while_running_retires_its_thread_and_the_rest_still_run() -> None:
    threads = JobThreads()
    release = threading.Event()
    ran: list[str] = []

    async def main() -> list[Any]:
        results: list[Any] = []

        async def stuck() -> None:
            with anyio.move_on_after(0.1):
                await threads.run(lambda: (release.wait(5), ran.append("stuck")))
            results.append("gave up")

        async def later(name: str) -> None:
            results.append(await threads.run(lambda: name))

        async with anyio.create_task_group() as group:
            group.start_soon(stuck)
            group.start_soon(later, "a")
            group.start_soon(later, "b")
        return results

    results = anyio.run(main)
    assert sorted(results) == ["a", "b", "gave up"]
    assert ran == []  # still running in its retired thread
    release.set()
    threads.close()
    deadline = time.monotonic() + 5
    while live_job_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ran == ["stuck"]  # it ran to its end, its result dropped
    assert live_job_threads() == 0  # the retired thread and the others ended


def test_errors_are_raised_in_the_caller_and_context_variables_are_seen() -> None:
    threads = JobThreads()

    def fails() -> None:
        raise KeyError(LABEL.get())

    async def main() -> None:
        LABEL.set("from the task")
        assert await threads.run(LABEL.get) == "from the task"
        with pytest.raises(KeyError, match="from the task"):
            await threads.run(fails)
        with pytest.raises(SystemExit):
            await threads.run(lambda: exec("raise SystemExit(3)"))

    anyio.run(main)
    threads.close()


def test_give_ups_racing_the_jobs_never_lose_or_hang_a_call() -> None:
    """Jobs of 0-3 ms, half of them given up after 0-3 ms, in batches: every call not given up
    returns its own result, nothing hangs, and every thread ends after close()."""
    import random

    rng = random.Random(7)
    threads = JobThreads()
    # every other call is waited for as long as it takes: none of those may be lost
    plans = [(rng.uniform(0, 0.003), rng.uniform(0, 0.003) if i % 2 else 60.0) for i in range(300)]
    outcomes: dict[int, str] = {}

    async def one(index: int, runs_for: float, waits_for: float) -> None:
        def job() -> int:
            time.sleep(runs_for)
            return index

        with anyio.move_on_after(waits_for):
            assert await threads.run(job) == index
            outcomes[index] = "returned"
            return
        outcomes[index] = "given up"

    async def main() -> None:
        with anyio.fail_after(20):
            for start in range(0, len(plans), 10):
                async with anyio.create_task_group() as group:
                    for index in range(start, start + 10):
                        group.start_soon(one, index, *plans[index])

    anyio.run(main)
    threads.close()
    assert len(outcomes) == len(plans)
    assert all(outcomes[i] == "returned" for i in range(0, len(plans), 2))
    assert "given up" in outcomes.values()
    deadline = time.monotonic() + 5
    while live_job_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert live_job_threads() == 0
