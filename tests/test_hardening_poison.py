"""Poison rows: whatever a worker cannot decode or run fails alone; the process goes on.

Enqueue refuses what a worker could not read back (nesting past MAX_DEPTH, integers longer
than MAX_INT_DIGITS); rows written by SQL that break those limits fail with a readable reason
while the rest of their claim batch runs.
"""

from __future__ import annotations

import psycopg
import pytest
from hardening_workers import Quick

from toro_core.encoding import MAX_DEPTH, MAX_INT_DIGITS
from toro_core.testing import rows, scalar, wait_for


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


def _count(db: str) -> int:
    return scalar(db, "SELECT count(*) FROM toro_jobs")


def test_enqueue_refuses_too_deep_and_too_long_values_naming_the_limit(toro_app, toro_db):
    assert Quick.perform_async(1, deep=_nested(MAX_DEPTH)).id  # at the limit: fine
    Quick.perform_async(_nested(MAX_DEPTH))
    before = _count(toro_db)
    refused = {
        # deep enough to overflow json.dumps itself: still a TypeError, not a RecursionError
        (lambda: Quick.perform_async(_nested(5000))): rf"argument 0 nests lists and dicts "
        rf"more than {MAX_DEPTH} levels deep",
        (lambda: Quick.perform_async(1, _nested(MAX_DEPTH + 1))): rf"argument 1 nests lists "
        rf"and dicts more than {MAX_DEPTH}",
        (lambda: Quick.perform_async(1, deep={"a": _nested(MAX_DEPTH)})): r"keyword argument "
        r"'deep' nests lists and dicts more than",
        (lambda: Quick.perform_async(10**MAX_INT_DIGITS)): rf"argument 0 is an integer of more "
        rf"than {MAX_INT_DIGITS} digits",
        (lambda: Quick.perform_async([1, {"n": -(10**5000)}])): r"argument 0\[1\]\['n'\] is "
        r"an integer of more than 4300 digits",
        (lambda: Quick.perform_bulk([(1,), (_nested(200),)])): r"perform_bulk item 1: "
        r"argument 0 nests",
    }
    for call, message in refused.items():
        with pytest.raises(TypeError, match=message) as caught:
            call()
        assert "nothing was enqueued" in str(caught.value)
    assert Quick.perform_async(10**MAX_INT_DIGITS - 1).id  # 4300 digits: fine
    assert _count(toro_db) == before + 1


def test_job_params_refuses_deep_properties(toro_app):
    from toro_core.plugin import job_params

    with pytest.raises(TypeError, match=r"property 'x' nests lists and dicts more than 100"):
        job_params(toro_app, Quick, [1], properties={"x": _nested(MAX_DEPTH + 1)})
    with pytest.raises(TypeError, match=r"property key 1 is not a string"):
        job_params(toro_app, Quick, [1], properties={1: "x"})


POISON = {
    # deep enough to overflow Python's JSON decoder
    "args 5000 deep": ("args", "'" + "[" * 5000 + "]" * 5000 + "'", "nested more than 100"),
    # decodable by json, but past the limit every other part of toro relies on
    "args 150 deep": ("args", "'" + "[" * 150 + "]" * 150 + "'", "nested more than 100"),
    # PostgreSQL keeps 1e5000 exactly: 5001 digits that Python will not read as an int
    "an integer of 5001 digits": ("args", "'[1e5000]'", "4300 digits"),
    "kwargs 5000 deep": (
        "kwargs",
        """'{"k": ' || repeat('[', 5000) || repeat(']', 5000) || '}'""",
        "kwargs: lists and dicts nested",
    ),
    "headers 5000 deep": (
        "headers",
        """'{"h": ' || repeat('[', 5000) || repeat(']', 5000) || '}'""",
        "headers: lists and dicts nested",
    ),
    "properties too deep": (
        "properties",
        """'{"p": ' || repeat('{"a": ', 300) || '1' || repeat('}', 300) || '}'""",
        "properties: lists and dicts nested",
    ),
}


def test_undecodable_rows_fail_alone_and_the_batch_and_worker_go_on(
    toro_app, toro_db, start_worker
):
    good_before = Quick.perform_bulk([(i,) for i in range(5)])
    poisoned: dict[int, str] = {}
    with psycopg.connect(toro_db, autocommit=True) as conn:
        for column, value, reason in POISON.values():
            job_id = conn.execute(
                f"INSERT INTO toro_jobs (class_name, {column}) "
                f"VALUES ('hardening_workers.Quick', ({value})::jsonb) RETURNING id"
            ).fetchone()[0]
            poisoned[job_id] = reason
    good_after = Quick.perform_bulk([(i,) for i in range(5, 60)])
    # one claim of 100 takes the poison rows and the good jobs around them
    worker = start_worker("-r", "hardening_workers", "-c", "100", "--batch-size", "100")
    wait_for(
        lambda: (
            scalar(toro_db, "SELECT count(*) FROM toro_jobs WHERE status IN ('queued', 'running')")
            == 0
        ),
        timeout=30,
    )
    statuses = dict(rows(toro_db, "SELECT id, status FROM toro_jobs"))
    assert {statuses[i] for i in good_before + good_after} == {"complete"}
    for job_id, reason in poisoned.items():
        assert statuses[job_id] == "failed", job_id
        cls, message = rows(
            toro_db,
            "SELECT properties->>'error:class', properties->>'error:message' FROM toro_jobs "
            "WHERE id = %s",
            (job_id,),
        )[0]
        assert cls == "toro_core.errors.JobUndecodable"
        assert message.startswith("the job's data cannot be read: ") and reason in message
    assert worker.popen.poll() is None  # the process stays up ...
    Quick.perform_async(99)  # ... and keeps working
    wait_for(
        lambda: scalar(toro_db, "SELECT count(*) FROM toro_jobs WHERE status = 'complete'") == 61
    )
    log = worker.log()
    assert "Traceback" not in log
    assert worker.stop() == 0


def test_a_job_that_exits_or_whose_error_cannot_be_printed_fails_alone(
    toro_app, toro_db, start_worker
):
    from hardening_workers import Exits, FailsBadly, Interrupts

    exits, interrupts, bad = (
        Exits.perform_async(3),
        Interrupts.perform_async(),
        FailsBadly.perform_async(),
    )
    after = Quick.perform_async(1)
    worker = start_worker("-r", "hardening_workers")
    wait_for(
        lambda: (
            scalar(toro_db, "SELECT status FROM toro_jobs WHERE id = %s", (after.id,)) == "complete"
        )
    )
    wait_for(lambda: scalar(toro_db, "SELECT count(*) FROM toro_jobs WHERE status = 'failed'") == 3)
    found = dict(
        rows(
            toro_db,
            "SELECT id, properties->>'error:message' FROM toro_jobs WHERE status = 'failed'",
        )
    )
    assert "raised SystemExit(3); a job cannot stop its worker process" in found[exits.id]
    assert "raised KeyboardInterrupt" in found[interrupts.id]
    assert "str() failed" in found[bad.id]
    assert worker.popen.poll() is None
    assert worker.stop() == 0


def test_admin_commands_show_an_unreadable_row_without_a_traceback(toro_app, toro_db, capsys):
    from toro_core.cli import main

    with psycopg.connect(toro_db, autocommit=True) as conn:
        job_id = conn.execute(
            "INSERT INTO toro_jobs (class_name, args) VALUES "
            "(E'x.Y\\nforged', (repeat('[', 5000) || repeat(']', 5000))::jsonb) RETURNING id"
        ).fetchone()[0]
    assert main(["--database-url", toro_db, "jobs", "show", str(job_id)]) == 0
    shown = capsys.readouterr().out
    assert "undecodable" in shown and "nested more than 100" in shown
    assert "x.Y\\nforged" in shown and "\nforged" not in shown  # escaped, one line
    assert main(["--database-url", toro_db, "jobs", "list"]) == 0
    assert f"{job_id}  queued" in capsys.readouterr().out
    job = toro_app.job(job_id)
    assert job is not None and job.args == [] and "nested" in (job.undecodable or "")
