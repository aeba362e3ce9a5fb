"""toro-retry end to end: real PostgreSQL, worker processes started as users start them.

Rescheduled jobs wait in status ``scheduled`` and come back through toro-scheduler's promoter,
so the workers here run with the ``retry`` and ``scheduler`` entry points.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import psycopg
import pytest
import toro_retry.plugin
from retry_workers import (
    RUNS_TABLE,
    AlwaysFails,
    BadOptions,
    Flaky,
    NeverRetriesKeyError,
    NoRetry,
    OwnDelay,
    RetriesTimeoutsOnly,
)

from toro_core import Toro, UnknownOptionError
from toro_core.testing import as_default, rows, scalar, wait_for

PLUGINS = ["retry", "scheduler"]
FINAL = ("complete", "failed")


@pytest.fixture
def retry_app(make_app: Callable[..., Toro], toro_db: str) -> Iterator[Toro]:
    """The process default app, with toro-retry so its options are accepted at enqueue."""
    with psycopg.connect(toro_db, autocommit=True) as conn:
        conn.execute(RUNS_TABLE)
    with as_default(make_app(plugins=[toro_retry.plugin])) as app:
        yield app


def job_row(conninfo: str, job_id: int) -> dict[str, Any]:
    [(status, attempt, properties)] = rows(
        conninfo, "SELECT status, attempt, properties FROM toro_jobs WHERE id = %s", (job_id,)
    )
    return {"status": status, "attempt": attempt, "properties": properties}


def wait_final(conninfo: str, job_id: int, timeout: float = 20) -> dict[str, Any]:
    wait_for(lambda: job_row(conninfo, job_id)["status"] in FINAL, timeout=timeout)
    return job_row(conninfo, job_id)


def runs(conninfo: str, key: str) -> list[datetime]:
    """When each run of ``key`` started, in order."""
    found = rows(conninfo, "SELECT at FROM retry_runs WHERE key = %s ORDER BY at", (key,))
    return [at for (at,) in found]


def test_fails_twice_then_completes(retry_app, toro_db, start_worker):
    job = Flaky.perform_async("flaky", 2)
    start_worker("-r", "retry_workers", plugins=PLUGINS)
    row = wait_final(toro_db, job.id)
    assert row["status"] == "complete"
    assert row["attempt"] == 3
    history = row["properties"]["retry:errors"]
    assert [entry["attempt"] for entry in history] == [1, 2]
    assert [entry["class"] for entry in history] == ["RuntimeError", "RuntimeError"]
    assert history[0]["message"] == "run 1 of flaky fails"
    failed_at = [datetime.fromisoformat(entry["at"]) for entry in history]
    assert (failed_at[1] - failed_at[0]).total_seconds() >= 1
    started = runs(toro_db, "flaky")
    assert len(started) == 3
    assert all((b - a).total_seconds() >= 1 for a, b in itertools.pairwise(started))
    # the last error stays in error:* as the kernel records it
    assert row["properties"]["error:class"] == "RuntimeError"


def test_max_attempts_ends_failed_with_every_attempt_in_history(retry_app, toro_db, start_worker):
    job = AlwaysFails.perform_async("always")
    start_worker("-r", "retry_workers", plugins=PLUGINS)
    row = wait_final(toro_db, job.id)
    assert row["status"] == "failed"
    assert row["attempt"] == 3
    history = row["properties"]["retry:errors"]
    assert [entry["message"] for entry in history] == [f"run {n} fails" for n in (1, 2, 3)]
    assert row["properties"]["retry:gave_up"] == "max_attempts reached (3 of 3)"
    assert row["properties"]["error:message"] == "run 3 fails"
    assert "ValueError" in row["properties"]["error:backtrace"]


def test_errors_outside_retry_on_or_in_no_retry_on_fail_at_once(retry_app, toro_db, start_worker):
    not_listed = RetriesTimeoutsOnly.perform_async("value", "value")
    never = NeverRetriesKeyError.perform_async("key")
    timeout = RetriesTimeoutsOnly.perform_async("timeout", "timeout")
    start_worker("-r", "retry_workers", "-c", "3", plugins=PLUGINS)

    row = wait_final(toro_db, not_listed.id)
    assert (row["status"], row["attempt"]) == ("failed", 1)
    assert row["properties"]["retry:gave_up"] == "ValueError is not listed in retry_on"
    assert len(row["properties"]["retry:errors"]) == 1

    row = wait_final(toro_db, never.id)
    assert (row["status"], row["attempt"]) == ("failed", 1)
    assert row["properties"]["retry:gave_up"] == "KeyError is listed in no_retry_on"

    # a timeout is an ordinary exception: retried because JobTimeout is a TimeoutError
    row = wait_final(toro_db, timeout.id)
    assert (row["status"], row["attempt"]) == ("failed", 2)
    classes = [e["class"] for e in row["properties"]["retry:errors"]]
    assert classes == ["toro_core.errors.JobTimeout"] * 2
    assert len(runs(toro_db, "timeout")) == 2


def test_without_the_option_a_failed_job_stays_failed(retry_app, toro_db, start_worker):
    job = NoRetry.perform_async("plain")
    start_worker("-r", "retry_workers", plugins=PLUGINS)
    row = wait_final(toro_db, job.id)
    assert (row["status"], row["attempt"]) == ("failed", 1)
    assert "retry:errors" not in row["properties"]
    assert row["properties"]["error:class"] == "RuntimeError"
    assert len(runs(toro_db, "plain")) == 1


def test_retry_delay_method_wins_over_the_interval(retry_app, toro_db, start_worker):
    job = OwnDelay.perform_async("own")
    start_worker("-r", "retry_workers", plugins=PLUGINS)
    row = wait_final(toro_db, job.id, timeout=10)  # retry_interval alone would wait an hour
    assert (row["status"], row["attempt"]) == ("failed", 2)
    assert [e["class"] for e in row["properties"]["retry:errors"]] == ["LookupError"] * 2


def test_bad_option_value_is_refused_at_enqueue_and_fails_a_job_inserted_in_sql(
    retry_app, toro_db, start_worker
):
    from toro_retry.options import RetryOptionError

    with pytest.raises(RetryOptionError, match=r"BadOptions\.retry_interval"):
        BadOptions.perform_async()
    assert scalar(toro_db, "SELECT count(*) FROM toro_jobs") == 0
    job_id = scalar(
        toro_db,
        "INSERT INTO toro_jobs (class_name) VALUES (%s) RETURNING id",
        (BadOptions.class_name(),),
    )
    start_worker("-r", "retry_workers", plugins=PLUGINS)
    row = wait_final(toro_db, job_id)
    assert row["status"] == "failed"
    assert row["properties"]["error:class"] == "toro_retry.options.RetryOptionError"
    assert "BadOptions.retry_interval" in row["properties"]["error:message"]
    assert runs(toro_db, "bad-options") == []


@pytest.mark.parametrize(
    ("plugins", "env"),
    [(["scheduler"], {}), (PLUGINS, {"TORO_DISABLE_PLUGINS": "retry"})],
    ids=["TORO_PLUGINS", "TORO_DISABLE_PLUGINS"],
)
def test_blocked_plugin_makes_retry_options_unknown(retry_app, toro_db, start_worker, plugins, env):
    job = Flaky.perform_async("blocked", 1)
    start_worker("-r", "retry_workers", plugins=plugins, env=env)
    row = wait_final(toro_db, job.id)
    assert (row["status"], row["attempt"]) == ("failed", 1)
    assert row["properties"]["error:class"] == "toro_core.errors.UnknownOptionError"
    assert "Flaky.retry_interval is not a toro worker option" in row["properties"]["error:message"]
    assert runs(toro_db, "blocked") == []


def test_enqueue_without_the_plugin_rejects_retry_options(make_app):
    app = make_app()  # built-ins only: nobody declares retry_interval
    with pytest.raises(UnknownOptionError, match=r"Flaky\.retry_interval"):
        app.client.enqueue(Flaky, ["never", 1])


def test_retries_need_no_other_plugin(retry_app, toro_db, start_worker):
    """The waiting status and its promoter are the kernel's: toro-retry alone retries."""
    job = Flaky.perform_async("retry-alone", 1)
    start_worker("-r", "retry_workers", plugins=["retry"])
    row = wait_final(toro_db, job.id)
    assert (row["status"], row["attempt"]) == ("complete", 2)
    assert len(row["properties"]["retry:errors"]) == 1
