"""The example plugin tested as a plugin's author tests theirs: toro_core.testing's fixtures give
each test a migrated database, ``toro_plugins("example")`` loads the plugin through its entry
point, ``drain`` runs the jobs in the test's process as a worker would, and the rows are read
back."""

from __future__ import annotations

import time

import pytest
from toro_example_plugin.plugin import timing_context, was_timed

from toro_core import Toro, Worker
from toro_core.testing import drain


class Sleeps(Worker):
    def perform(self, ms: int) -> None:
        time.sleep(ms / 1000)


class Fails(Worker):
    def perform(self) -> None:
        raise RuntimeError("out of paper")


@pytest.mark.toro_plugins("example")
def test_every_attempt_is_timed_in_its_properties_whatever_its_outcome(toro_app: Toro) -> None:
    slow, quick = Sleeps.perform_bulk([(30,), (0,)])
    failed = Fails.perform_async().id
    ran = {attempt.job.id: attempt.status for attempt in drain(toro_app)}
    assert ran == {slow: "complete", quick: "complete", failed: "failed"}
    for job_id, at_least in ((slow, 30.0), (quick, 0.0), (failed, 0.0)):
        job = toro_app.job(job_id)
        assert job is not None and was_timed(job)
        assert job.properties["example:wrapped_by"] == "toro-example-plugin"
        assert job.properties["example:elapsed_ms"] >= at_least


@pytest.mark.toro_plugins()
def test_without_the_plugin_nothing_is_timed(toro_app: Toro) -> None:
    job_id = Sleeps.perform_async(0).id
    assert [attempt.status for attempt in drain(toro_app)] == ["complete"]
    job = toro_app.job(job_id)
    assert job is not None and not was_timed(job)


def test_the_timing_section_shows_what_a_row_holds_without_trusting_it() -> None:
    """The monitor section reads a property any row may hold: only a finite number is a time;
    anything else is shown, shortened, as what it is."""
    from datetime import UTC, datetime

    from toro_core import Job

    def section(raw: object) -> dict[str, object]:
        now = datetime.now(UTC)
        job = Job(id=1, queue="default", class_name="x.Y", args=[], name=None, created_at=now,
                  scheduled_at=None, started_at=now, finished_at=now, status="complete",
                  started_by="h:1", properties={"example:elapsed_ms": raw}, attempt=1)  # fmt: skip
        return timing_context(job)

    assert section(12.5) == {"elapsed_ms": 12.5, "slow": False, "raw": "12.5"}
    assert section(1500)["slow"] is True
    for hostile in ("soon", "1e400", True, None, float("nan")):
        assert section(hostile)["elapsed_ms"] is None, hostile
    assert section({"a": 1})["raw"] == "a JSON object"
    assert section("x" * 500)["raw"] == "x" * 80
