"""``toro-core jobs`` and ``toro-core queues``: filters, what they print, and their errors."""

from __future__ import annotations

import functools
import json
import re

import psycopg
import pytest

from toro_core.testing import rows, run_toro, scalar


@pytest.fixture
def cli(toro_db):
    return functools.partial(run_toro, database_url=toro_db, plugins=[])


@pytest.fixture
def jobs(toro_db) -> dict[str, list[int]]:
    """Jobs in several statuses and queues, inserted by SQL."""
    made: dict[str, list[int]] = {}
    with psycopg.connect(toro_db, autocommit=True) as conn:
        for status, queue, cls, count in (
            ("failed", "mail", "app.Send", 3),
            ("failed", "media", "app.Resize", 2),
            ("queued", "mail", "app.Send", 4),
            ("complete", "mail", "app.Send", 1),
        ):
            ids = conn.execute(
                "INSERT INTO toro_jobs (class_name, queue, status, properties)"
                ' SELECT %s, %s, %s, \'{"error:class": "E", "error:message": "boom"}\''
                " FROM generate_series(1, %s) RETURNING id",
                (cls, queue, status, count),
            ).fetchall()
            made.setdefault(f"{status}/{queue}", []).extend(i for (i,) in ids)
    return made


def test_list_and_show_with_filters(cli, jobs):
    out = cli("jobs", "list", "--status", "failed", "--queue", "mail", "--json")
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    assert sorted(j["id"] for j in listed) == sorted(jobs["failed/mail"])
    assert {j["status"] for j in listed} == {"failed"}
    table = cli("jobs", "list", "--worker", "app.Resize").stdout
    assert table.count("app.Resize") == 2 and "app.Send" not in table
    assert cli("jobs", "list", "--queue", "nowhere").stdout.strip() == "no jobs match"
    limited = json.loads(cli("jobs", "list", "--limit", "2", "--json").stdout)
    assert len(limited) == 2
    one = jobs["failed/media"][0]
    shown = json.loads(cli("jobs", "show", str(one), "--json").stdout)
    assert shown["id"] == one and shown["properties"]["error:message"] == "boom"
    assert re.search(r"^class_name +app\.Resize$", cli("jobs", "show", str(one)).stdout, re.M)


def test_retry_by_id_and_by_filter(cli, jobs, toro_db):
    first, complete = jobs["failed/media"][0], jobs["complete/mail"][0]
    out = cli("jobs", "retry", str(first), str(complete), "987654")
    assert out.returncode == 0, out.stderr
    assert f"job {first}: queued again" in out.stdout
    assert f"job {complete}: left alone (it is complete" in out.stdout
    assert "job 987654: no such job" in out.stdout
    out = cli("jobs", "retry", "--failed", "--queue", "mail")
    assert out.returncode == 0 and "3 job(s) queued again" in out.stdout
    statuses = dict(rows(toro_db, "SELECT id, status FROM toro_jobs"))
    assert all(statuses[i] == "queued" for i in jobs["failed/mail"])
    assert statuses[jobs["failed/media"][1]] == "failed"  # another queue: untouched
    history = scalar(
        toro_db, "SELECT properties->'retried:history' FROM toro_jobs WHERE id = %s", (first,)
    )
    assert history[0]["message"] == "boom" and history[0]["status"] == "failed"


def test_cancel_by_id_and_by_filter(cli, jobs, toro_db):
    queued = jobs["queued/mail"]
    out = cli("jobs", "cancel", str(queued[0]), str(jobs["complete/mail"][0]))
    assert out.returncode == 0, out.stderr
    assert (
        f"job {queued[0]}: cancelled" in out.stdout and "left alone (it is complete)" in out.stdout
    )
    unknown = cli("jobs", "cancel", "987654321")
    assert "Traceback" not in unknown.stderr
    assert "987654321" in unknown.stdout + unknown.stderr
    out = cli("jobs", "cancel", "--status", "queued", "--queue", "mail")
    assert out.returncode == 0 and "3 job(s) cancelled" in out.stdout
    assert scalar(toro_db, "SELECT count(*) FROM toro_jobs WHERE status = 'cancelled'") == 4


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("jobs", "list", "--status", "bogus"), 1, "unknown status 'bogus'"),
        (("jobs", "list", "--limit", "0"), 2, "'0' is not a whole number"),
        (("jobs", "list", "--limit", "1000000"), 1, "at most 100,000 jobs"),
        (("jobs", "show", "abc"), 2, "'abc' is not a whole number"),
        (("jobs", "show", "424242"), 1, "no job 424242"),
        (("jobs", "retry"), 1, "give job ids, or --failed"),
        (("jobs", "retry", "1", "--failed"), 1, "ids or filters, not both"),
        (("jobs", "cancel"), 1, "give job ids, or filters"),
        (("jobs", "cancel", "--status", "complete"), 1, "only queued, scheduled, blocked, running"),
        (("jobs", "cancel", "-5"), 2, "error"),
        (("queues", "pause", " "), 1, "cannot be empty"),
        (("jobs",), 2, "required"),
    ],
)
def test_bad_input_is_a_clear_error(cli, jobs, args, code, message):
    out = cli(*args)
    assert out.returncode == code, (out.stdout, out.stderr)
    assert message in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_queues_list_json(cli, jobs):
    assert cli("queues", "pause", "media").returncode == 0
    assert "was paused already" in cli("queues", "pause", "media").stdout
    report = {q["name"]: q for q in json.loads(cli("queues", "list", "--json").stdout)}
    assert report["media"]["paused"] and not report["mail"]["paused"]
    assert report["mail"]["jobs"] == {"failed": 3, "queued": 4, "complete": 1}
    assert report["mail"]["warning"] and not report["media"]["warning"]
    assert "was not paused" in cli("queues", "resume", "mail").stdout
