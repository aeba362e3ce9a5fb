"""toro-retry without a database: backoff formulas, option checks, decisions, failure hooks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
import toro_retry.plugin
from toro_retry.backoff import exponential_base, exponential_delay, fixed_delay
from toro_retry.decide import backoff_delay, stop_reason
from toro_retry.failures import on_failure, on_finished
from toro_retry.history import HISTORY_LIMIT, appended, entry
from toro_retry.options import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_INTERVAL,
    RetryOptionError,
    RetryPolicy,
    policy_for,
)

from toro_core import Execution, Job, Outcome, Snooze, Toro, Worker
from toro_core.runtime.executor import Executor

# ------------------------------------------------------------------------------ formulas


def test_fixed_delay_is_the_interval_on_every_attempt():
    assert [fixed_delay(7.5, attempt) for attempt in (1, 2, 10)] == [7.5, 7.5, 7.5]


def test_exponential_base_doubles_per_attempt_up_to_the_cap():
    assert [exponential_base(2.0, n, cap=40.0) for n in range(1, 7)] == [2, 4, 8, 16, 32, 40]
    assert exponential_base(1.0, 10_000, cap=60.0) == 60.0  # no overflow on huge attempts


def test_exponential_delay_has_equal_jitter_between_half_and_whole_base():
    assert exponential_delay(10.0, 3, 1e9, uniform=lambda lo, hi: lo) == 20.0
    assert exponential_delay(10.0, 3, 1e9, uniform=lambda lo, hi: hi) == 40.0
    samples = [exponential_delay(1.0, 4, 1e9) for _ in range(500)]
    assert all(4.0 <= s <= 8.0 for s in samples)
    assert len(set(samples)) > 1


def test_backoff_delay_follows_the_policy():
    fixed = RetryPolicy(interval=3.0)
    assert backoff_delay(fixed, 5) == 3.0
    exponential = RetryPolicy(interval=3.0, backoff="exponential", max_interval=10.0)
    assert backoff_delay(exponential, 1, uniform=lambda lo, hi: hi) == 3.0
    assert backoff_delay(exponential, 5, uniform=lambda lo, hi: hi) == 10.0


# ------------------------------------------------------------------------------ options


def worker(**options: Any) -> type[Worker]:
    """A worker class with ``options`` as class attributes (methods pass through as well)."""
    return type("Opt", (Worker,), {"perform": lambda self: None, **options})


def test_no_retry_interval_means_no_policy():
    assert policy_for(worker()) is None
    assert policy_for(worker(retry_interval=None)) is None


def test_policy_defaults_and_conversions():
    policy = policy_for(worker(retry_interval=timedelta(minutes=2)))
    assert policy == RetryPolicy(interval=120.0)
    assert policy.max_attempts == DEFAULT_MAX_ATTEMPTS
    assert policy.max_interval == DEFAULT_MAX_INTERVAL
    policy = policy_for(
        worker(
            retry_interval=1,
            retry_backoff="exponential",
            retry_max_interval=timedelta(seconds=30),
            max_attempts=None,
            retry_on=OSError,
            no_retry_on=[FileNotFoundError],
        )
    )
    assert policy == RetryPolicy(
        interval=1.0,
        backoff="exponential",
        max_interval=30.0,
        max_attempts=None,
        retry_on=(OSError,),
        no_retry_on=(FileNotFoundError,),
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retry_interval": "1h"}, r"Opt\.retry_interval must be a finite number of seconds"),
        ({"retry_interval": True}, r"Opt\.retry_interval must be a finite number of seconds"),
        ({"retry_interval": float("inf")}, r"Opt\.retry_interval must be a finite number"),
        ({"retry_interval": 0}, r"Opt\.retry_interval must be more than 0"),
        ({"retry_interval": timedelta(seconds=-1)}, r"Opt\.retry_interval must be more than 0"),
        ({"retry_interval": 1, "retry_backoff": "linear"}, r"Opt\.retry_backoff must be one of"),
        ({"retry_interval": 1, "retry_max_interval": 9}, r"caps the exponential backoff only"),
        (
            {"retry_interval": 10, "retry_backoff": "exponential", "retry_max_interval": 5},
            r"retry_max_interval \(5 s\) is less than its retry_interval \(10 s\)",
        ),
        ({"retry_interval": 1, "max_attempts": 0}, r"Opt\.max_attempts must be a whole number"),
        ({"retry_interval": 1, "max_attempts": 2.5}, r"Opt\.max_attempts must be a whole number"),
        ({"retry_interval": 1, "max_attempts": True}, r"Opt\.max_attempts must be a whole number"),
        ({"retry_interval": 1, "retry_on": (KeyError, "x")}, r"Opt\.retry_on must be an exception"),
        ({"retry_interval": 1, "retry_on": ()}, r"Opt\.retry_on is empty"),
        ({"retry_interval": 1, "no_retry_on": int}, r"Opt\.no_retry_on must be an exception"),
        ({"max_attempts": 3}, r"Opt sets max_attempts but not retry_interval"),
        (
            {"retry_delay": lambda self, attempt, error: 1},
            r"Opt sets retry_delay\(\) but not retry_interval",
        ),
    ],
)
def test_bad_options_name_the_worker_and_the_option(options, message):
    with pytest.raises(RetryOptionError, match=message):
        policy_for(worker(**options))


# ------------------------------------------------------------------------------ decisions


def test_stop_reason_checks_no_retry_on_then_retry_on_then_attempts():
    policy = RetryPolicy(
        interval=1, max_attempts=3, retry_on=(OSError,), no_retry_on=(FileNotFoundError,)
    )
    assert stop_reason(policy, 1, FileNotFoundError()) == (
        "FileNotFoundError is listed in no_retry_on"
    )
    assert stop_reason(policy, 1, ValueError()) == "ValueError is not listed in retry_on"
    assert stop_reason(policy, 1, ConnectionError()) is None  # an OSError subclass
    assert stop_reason(policy, 2, OSError()) is None
    assert stop_reason(policy, 3, OSError()) == "max_attempts reached (3 of 3)"
    assert stop_reason(RetryPolicy(interval=1, max_attempts=None), 10_000, OSError()) is None


def test_history_entries_and_limit():
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    item = entry(KeyError("k"), 2, at)
    assert item == {"class": "KeyError", "message": "'k'", "at": at.isoformat(), "attempt": 2}
    assert entry(RetryOptionError("x"), 1, at)["class"] == "toro_retry.options.RetryOptionError"
    assert appended(None, item) == [item]
    assert appended("overwritten", item) == [item]
    long = appended([{"n": n} for n in range(HISTORY_LIMIT)], item)
    assert len(long) == HISTORY_LIMIT and long[-1] == item and long[0] == {"n": 1}


# ------------------------------------------------------------------------------ middleware


def make_job(attempt: int = 1, properties: dict[str, Any] | None = None) -> Job:
    now = datetime.now(UTC)
    return Job(
        id=1,
        queue="default",
        class_name="x.Y",
        args=[],
        name=None,
        created_at=now,
        scheduled_at=None,
        started_at=now,
        finished_at=None,
        status="running",
        started_by="host:1",
        properties=properties or {},
        attempt=attempt,
    )


def run_attempt(worker_class: type[Worker], error: Exception | None, **job: Any) -> Execution:
    """Give the plugin an attempt that raised ``error`` (or returned), as the kernel does."""
    execution = Execution(job=make_job(**job), worker=worker_class(), error=error)
    if error is not None:
        anyio.run(on_failure, execution, error)
    on_finished(execution)
    return execution


def test_workers_that_do_not_retry_get_nothing():
    execution = run_attempt(worker(), OSError("x"))
    assert execution.outcome is None and execution.properties == {}
    nobody = Execution(job=make_job(), worker=None)
    anyio.run(on_failure, nobody, OSError("x"))
    assert nobody.outcome is None and nobody.properties == {}


def test_failure_reschedules_and_appends_to_the_rows_history():
    previous = {"class": "OSError", "message": "first", "at": "2026-01-01T00:00", "attempt": 1}
    before = datetime.now(UTC)
    execution = run_attempt(
        worker(retry_interval=30),
        OSError("second"),
        attempt=2,
        properties={"retry:errors": [previous]},
    )
    outcome = execution.outcome
    assert outcome is not None and outcome.status == "scheduled"
    assert outcome.scheduled_at is not None
    assert timedelta(seconds=30) <= outcome.scheduled_at - before < timedelta(seconds=31)
    history = execution.properties["retry:errors"]
    assert history[0] == previous
    assert history[1]["message"] == "second" and history[1]["attempt"] == 2


def test_last_attempt_leaves_the_outcome_to_the_kernel_but_keeps_history():
    execution = run_attempt(worker(retry_interval=1, max_attempts=2), OSError("x"), attempt=2)
    assert execution.outcome is None
    assert len(execution.properties["retry:errors"]) == 1
    assert execution.properties["retry:gave_up"] == "max_attempts reached (2 of 2)"


def test_success_clears_an_old_gave_up_reason():
    execution = run_attempt(
        worker(retry_interval=1), None, attempt=4, properties={"retry:gave_up": "old"}
    )
    assert execution.outcome is None
    assert execution.properties == {"retry:gave_up": None}


def test_retry_delay_method_wins_and_none_falls_back_to_the_backoff():
    def delay(self: Any, attempt: int, error: BaseException) -> Any:
        return None if isinstance(error, KeyError) else timedelta(seconds=attempt * 100)

    cls = worker(retry_interval=5, retry_delay=delay)
    before = datetime.now(UTC)
    custom = run_attempt(cls, OSError(), attempt=3).outcome
    assert custom is not None and custom.scheduled_at is not None
    assert custom.scheduled_at - before >= timedelta(seconds=300)
    fallback = run_attempt(cls, KeyError(), attempt=3).outcome
    assert fallback is not None and fallback.scheduled_at is not None
    assert timedelta(seconds=5) <= fallback.scheduled_at - before < timedelta(seconds=6)


def test_async_retry_delay_is_awaited():
    async def delay(self: Any, attempt: int, error: BaseException) -> float:
        return 1000.0

    before = datetime.now(UTC)
    outcome = run_attempt(worker(retry_interval=5, retry_delay=delay), OSError()).outcome
    assert outcome is not None and outcome.scheduled_at is not None
    assert outcome.scheduled_at - before >= timedelta(seconds=1000)


@pytest.mark.parametrize("returned", ["soon", -1, RuntimeError("broken")])
def test_broken_retry_delay_falls_back_to_the_backoff_and_says_why(returned):
    def delay(self: Any, attempt: int, error: BaseException) -> Any:
        if isinstance(returned, Exception):
            raise returned
        return returned

    before = datetime.now(UTC)
    execution = run_attempt(worker(retry_interval=5, retry_delay=delay), OSError())
    outcome = execution.outcome
    assert outcome is not None and outcome.scheduled_at is not None
    assert timedelta(seconds=5) <= outcome.scheduled_at - before < timedelta(seconds=6)
    assert execution.properties["retry:delay_error"].startswith("Opt.retry_delay(): ")


def test_an_outcome_chosen_by_a_middleware_is_kept():
    execution = Execution(job=make_job(), worker=worker(retry_interval=1)())
    execution.outcome = Outcome("queued")
    anyio.run(on_failure, execution, OSError("x"))
    assert execution.outcome == Outcome("queued")
    assert len(execution.properties["retry:errors"]) == 1


# ------------------------------------------------------------------------------ with the kernel


class KernelFlaky(Worker):
    retry_interval = 60
    max_attempts = 2

    async def perform(self) -> None:
        raise ConnectionError("api down")


def test_the_kernel_keeps_error_properties_and_the_scheduled_outcome():
    plugins = [toro_retry.plugin]
    app = Toro("dbname=unused", plugins=plugins, load_entry_points=False)
    job = make_job().evolve(class_name=KernelFlaky.class_name())

    first = anyio.run(Executor(app, 1).run, job)
    assert first.outcome is not None and first.outcome.status == "scheduled"
    assert first.properties["error:class"] == "ConnectionError"
    assert first.properties["error:message"] == "api down"
    assert "retry:errors" in first.properties

    last = anyio.run(Executor(app, 1).run, job.evolve(attempt=2, properties=first.properties))
    assert last.outcome == Outcome.failed()
    assert [e["attempt"] for e in last.properties["retry:errors"]] == [1, 2]


PERFORMED: list[str] = []


class KernelBadOptions(Worker):
    retry_interval = "soon"

    async def perform(self) -> None:
        PERFORMED.append("bad options")


def test_a_class_with_unusable_retry_options_fails_before_perform():
    app = Toro("dbname=unused", plugins=[toro_retry.plugin], load_entry_points=False)
    job = make_job().evolve(class_name=KernelBadOptions.class_name())
    execution = anyio.run(Executor(app, 1).run, job)
    assert execution.outcome == Outcome.failed()
    assert "KernelBadOptions.retry_interval" in execution.properties["error:message"]
    assert PERFORMED == []


class KernelSnoozing(Worker):
    retry_interval = 60

    async def perform(self) -> None:
        raise Snooze(30)


def test_the_kernel_does_not_call_job_failed_for_a_snooze():
    app = Toro("dbname=unused", plugins=[toro_retry.plugin], load_entry_points=False)
    job = make_job().evolve(class_name=KernelSnoozing.class_name())
    execution = anyio.run(Executor(app, 1).run, job)
    assert execution.outcome is not None and execution.outcome.status == "scheduled"
    assert "retry:errors" not in execution.properties
    assert execution.properties["snooze:count"] == 1


# ------------------------------------------------------------------------------ monitor section


def test_monitor_section_lists_every_attempt_escaped():
    import jinja2
    from toro_retry.monitor import retries_view

    VIEW = retries_view()

    history = [
        {"class": "RuntimeError", "message": "<b>one</b>", "at": "2026-01-01T00:00", "attempt": 1},
        {"class": "RuntimeError", "message": "two", "at": "2026-01-01T00:01", "attempt": 2},
    ]
    waiting = make_job(attempt=2, properties={"retry:errors": history}).evolve(
        status="scheduled", scheduled_at=datetime(2026, 1, 1, 0, 2, tzinfo=UTC)
    )
    assert VIEW.predicate(waiting)
    assert not VIEW.predicate(make_job())
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(VIEW.templates), autoescape=True)
    assert VIEW.context is not None
    html = env.get_template(VIEW.template).render(job=waiting, view=VIEW, **VIEW.context(waiting))
    assert "&lt;b&gt;one&lt;/b&gt;" in html and "<b>one" not in html
    assert html.count("<tr>") == 3  # header and two attempts
    assert "attempt 3 runs at 2026-01-01T00:02:00+00:00" in html

    stopped = make_job(properties={"retry:errors": history, "retry:gave_up": "max_attempts"})
    html = env.get_template(VIEW.template).render(job=stopped, view=VIEW, **VIEW.context(stopped))
    assert "Not retried: max_attempts." in html
