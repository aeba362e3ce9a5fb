"""The monitor's job-control actions through Litestar's test client (real PostgreSQL): cancel
(a waiting job, and a running one in a worker process started through the CLI), bulk retry
and bulk cancel of the filtered list behind a counted confirmation, pause and resume, and
priorities and keyword arguments shown."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest
import toro_monitor.plugin as monitor_plugin
import toro_retry.plugin
from control_workers import RUNS_TABLE, LongAsync
from litestar.testing import TestClient
from monitor_support import XSS, add_job, failed_properties, page_token, row_ids
from toro_monitor import MonitorOptions, create_app

from toro_core.app import Toro
from toro_core.store import CoreSyncStore
from toro_core.testing import as_default, rows, scalar, wait_for

HX = {"HX-Request": "true"}


@pytest.fixture
def monitor(make_app: Callable[..., Toro]) -> Iterator[Callable[..., TestClient]]:
    """``monitor(options=None)``: a test client on a monitor for this database, with the
    cross-site token cookie set; its token is ``client.token``."""
    clients: list[TestClient] = []

    def build(options: MonitorOptions | None = None) -> TestClient:
        toro = make_app(plugins=[monitor_plugin, toro_retry.plugin])
        client = TestClient(create_app(toro, options or MonitorOptions(basic_auth=None)))
        client.__enter__()
        clients.append(client)
        client.token = page_token(client.get("/jobs").text)  # type: ignore[attr-defined]
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


def posting(client: TestClient) -> dict[str, str]:
    return {**HX, "x-toro-csrf": client.token}  # type: ignore[attr-defined]


def status(db: str, job_id: int) -> str:
    return str(scalar(db, "SELECT status FROM toro_jobs WHERE id = %s", (job_id,)))


def count_in(html: str) -> int:
    match = re.search(r'data-count="(\d+)"', html)
    assert match, html[:500]
    return int(match.group(1))


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no field {name}"
    return match.group(1)


# ------------------------------------------------------------------ cancel one job


def test_cancel_a_waiting_job_in_the_row(monitor, toro_db):
    queued = add_job(toro_db, status="queued")
    client = monitor()
    page = client.get("/jobs").text
    assert f'action="/jobs/{queued}/cancel"' in page and "hx-confirm=" in page
    response = client.post(f"/jobs/{queued}/cancel?view=row", headers=posting(client))
    assert response.status_code == 200
    assert response.text.strip().startswith(f'<tr id="job-{queued}" data-status="cancelled"')
    assert "/cancel" not in response.text  # no button on a cancelled job
    ((state, props),) = rows(
        toro_db, "SELECT status, properties FROM toro_jobs WHERE id = %s", (queued,)
    )
    assert state == "cancelled" and props["cancel:by"] == "monitor"
    assert props["cancel:was"] == "queued"
    again = client.post(f"/jobs/{queued}/cancel?view=row", headers=posting(client))
    assert again.status_code == 200 and "cancelled already; nothing was done" in again.text


def test_cancel_from_the_detail_and_without_javascript(monitor, toro_db):
    scheduled = add_job(toro_db, status="scheduled")
    blocked = add_job(toro_db, status="blocked")
    done = add_job(toro_db, status="complete")
    client = monitor()
    detail = client.post(f"/jobs/{scheduled}/cancel?view=detail", headers=posting(client))
    assert 'id="job-detail"' in detail.text and "Cancelled: it will not run." in detail.text
    assert "Cancel asked" in detail.text and 'data-status="cancelled"' in detail.text
    form = client.post(
        f"/jobs/{blocked}/cancel",
        data={"_csrf_token": client.token},  # type: ignore[attr-defined]
        follow_redirects=False,
    )
    assert form.status_code == 303 and form.headers["location"] == f"/jobs/{blocked}"
    assert status(toro_db, blocked) == "cancelled"
    finished = client.post(f"/jobs/{done}/cancel?view=detail", headers=posting(client))
    assert "complete already; nothing was done" in finished.text
    assert status(toro_db, done) == "complete"
    assert client.post("/jobs/999999/cancel", headers=posting(client)).status_code == 404


def test_cancel_buttons_only_where_a_cancel_can_act(monitor, toro_db):
    can = {s: add_job(toro_db, status=s) for s in ("queued", "scheduled", "blocked", "running")}
    cannot = {s: add_job(toro_db, status=s) for s in ("complete", "failed", "cancelled")}
    text = monitor().get("/jobs", headers=HX).text
    for job in can.values():
        assert f'action="/jobs/{job}/cancel"' in text
    for job in cannot.values():
        assert f'action="/jobs/{job}/cancel"' not in text


def test_cancel_a_running_job_in_a_worker_process(monitor, make_app, toro_db, start_worker):
    with psycopg.connect(toro_db, autocommit=True) as conn:
        conn.execute(RUNS_TABLE)
    with as_default(make_app(plugins=[toro_retry.plugin])):
        job = LongAsync.perform_async("long", 30)  # retried on failure: a cancel must not be
    start_worker("-r", "control_workers", plugins=["retry"])
    wait_for(lambda: status(toro_db, job.id) == "running")
    client = monitor()
    assert f'action="/jobs/{job.id}/cancel"' in client.get(f"/jobs/{job.id}").text
    started = time.monotonic()
    response = client.post(f"/jobs/{job.id}/cancel?view=detail", headers=posting(client))
    assert response.status_code == 200
    assert "asked to stop it" in response.text
    # its process may have stopped it already, before the detail was read again
    assert "cancelling…" in response.text or 'data-status="cancelled"' in response.text
    row = client.post(f"/jobs/{job.id}/cancel?view=row", headers=posting(client)).text
    # asked twice: still running and marked, or already stopped; never an error
    assert "cancelling…" in row or 'data-status="cancelled"' in row
    wait_for(lambda: status(toro_db, job.id) == "cancelled", timeout=5)
    assert time.monotonic() - started < 3
    time.sleep(1.5)  # a retry (retry_interval 1 s) would have started by now
    assert status(toro_db, job.id) == "cancelled"
    assert scalar(toro_db, "SELECT count(*) FROM control_runs WHERE key = 'long'") == 1
    detail = client.get(f"/jobs/{job.id}", headers=HX).text
    assert 'data-status="cancelled"' in detail and "/cancel" not in detail


# ------------------------------------------------------------------ priority, keyword arguments


def test_priority_and_keyword_arguments_in_the_list_and_the_detail(monitor, toro_db):
    urgent = add_job(toro_db, priority=10, args=["a"], kwargs={"user_id": 3, "note": XSS})
    low = add_job(toro_db, priority=-5)
    plain = add_job(toro_db)
    huge = add_job(toro_db, kwargs={"blob": "x" * 1_000_000})
    client = monitor()
    listing = client.get("/jobs", headers=HX).text
    rows_html = {
        job: listing.split(f'<tr id="job-{job}"')[1].split("</tr>")[0] for job in row_ids(listing)
    }
    assert 'data-priority="10"' in rows_html[urgent] and ">+10<" in rows_html[urgent]
    assert 'data-priority="-5"' in rows_html[low] and ">-5<" in rows_html[low]
    assert "data-priority" not in rows_html[plain]  # priority 0 is not shown
    assert '<span class="kwargs">{&#34;note&#34;: &#34;&lt;script&gt;' in rows_html[urgent]
    assert "kwargs" not in rows_html[plain]  # no keyword arguments, nothing shown
    assert len(rows_html[huge]) < 2_000  # cut in SQL like the arguments
    assert XSS not in listing
    detail = client.get(f"/jobs/{urgent}").text
    assert "<dt>Keyword arguments</dt>" in detail and "&#34;user_id&#34;: 3" in detail
    assert "<dt>Priority</dt><dd>10</dd>" in detail and XSS not in detail
    assert "<dt>Keyword arguments</dt>" not in client.get(f"/jobs/{plain}").text
    assert len(client.get(f"/jobs/{huge}").text) < 60_000  # folded in the detail


# ------------------------------------------------------------------ bulk actions


def test_bulk_retry_states_the_count_then_says_what_it_changed(monitor, toro_db):
    mine = [
        add_job(toro_db, queue="mailers", status="failed", properties=failed_properties())
        for _ in range(3)
    ]
    other = add_job(toro_db, queue="reports", status="failed", properties=failed_properties())
    done = add_job(toro_db, queue="mailers", status="complete")
    client = monitor()
    page = client.get("/jobs?queue=mailers").text
    assert 'formaction="/jobs/bulk/retry"' in page and 'hx-include="#filters"' in page
    ask = client.get("/jobs/bulk/retry?queue=mailers&status=&class=&q=&sort=queue", headers=HX)
    assert ask.status_code == 200 and ask.text.lstrip().startswith('<section id="bulk-dialog"')
    assert count_in(ask.text) == 3 and "3</strong> failed jobs match" in ask.text
    assert "queue <strong>mailers</strong>" in ask.text and "Retry 3 jobs" in ask.text
    assert hidden(ask.text, "upto") == str(max(mine))
    assert status(toro_db, mine[0]) == "failed"  # counting changes nothing
    late = add_job(toro_db, queue="mailers", status="failed", properties=failed_properties())
    form = {"_csrf_token": client.token, "queue": "mailers", "upto": hidden(ask.text, "upto")}  # type: ignore[attr-defined]
    done_answer = client.post("/jobs/bulk/retry", data=form, headers=HX)
    assert done_answer.status_code == 200
    assert done_answer.headers["hx-trigger"] == "toro-jobs-changed"  # the list refreshes
    assert (
        'data-changed="3"' in done_answer.text
        and "3</strong> jobs queued again" in done_answer.text
    )
    assert [status(toro_db, j) for j in mine] == ["queued"] * 3
    assert status(toro_db, late) == "failed"  # failed after the count: not touched
    assert status(toro_db, other) == "failed" and status(toro_db, done) == "complete"
    props = scalar(toro_db, "SELECT properties FROM toro_jobs WHERE id = %s", (mine[0],))
    assert props["retried:by"] == "monitor" and props["retried:history"][0]["message"] == "boom"
    again = client.get("/jobs/bulk/retry?queue=mailers", headers=HX).text
    assert count_in(again) == 1  # the late one


def test_bulk_cancel_takes_the_waiting_jobs_of_the_filters(monitor, toro_db):
    waiting = [
        add_job(toro_db, name="nightly export", status=s)
        for s in ("queued", "scheduled", "blocked")
    ]
    running = add_job(toro_db, name="nightly export", status="running")
    other = add_job(toro_db, name="hourly export", status="queued")
    client = monitor()
    ask = client.get("/jobs/bulk/cancel?q=NIGHTLY", headers=HX).text
    assert count_in(ask) == 3 and "name contains <strong>NIGHTLY</strong>" in ask
    answer = client.post(
        "/jobs/bulk/cancel",
        data={"_csrf_token": client.token, "q": "NIGHTLY", "upto": hidden(ask, "upto")},  # type: ignore[attr-defined]
        headers=HX,
    )
    assert 'data-changed="3"' in answer.text and "3</strong> jobs cancelled" in answer.text
    assert [status(toro_db, j) for j in waiting] == ["cancelled"] * 3
    assert status(toro_db, running) == "running" and status(toro_db, other) == "queued"
    # a status filter narrows it; one of another status leaves nothing to do
    only = client.get("/jobs/bulk/cancel?status=queued", headers=HX).text
    assert count_in(only) == 1
    none = client.get("/jobs/bulk/cancel?status=complete", headers=HX).text
    assert "leaves no waiting jobs" in none and "bulk-apply" not in none
    empty = client.get("/jobs/bulk/retry", headers=HX).text
    assert count_in(empty) == 0 and "No failed jobs match" in empty and "bulk-apply" not in empty


def test_bulk_actions_stop_at_the_bulk_limit(monitor, toro_db):
    made = [add_job(toro_db, status="failed", properties=failed_properties()) for _ in range(5)]
    client = monitor(MonitorOptions(basic_auth=None, bulk_limit=2))
    ask = client.get("/jobs/bulk/retry", headers=HX).text
    assert count_in(ask) == 2 and "More than <strong>2</strong> failed jobs match" in ask
    form = {"_csrf_token": client.token, "upto": hidden(ask, "upto")}  # type: ignore[attr-defined]
    answer = client.post("/jobs/bulk/retry", data=form, headers=HX).text
    assert 'data-changed="2"' in answer and "More may match" in answer
    assert [status(toro_db, j) for j in made] == ["failed"] * 3 + ["queued"] * 2  # newest


def test_bulk_actions_without_javascript(monitor, toro_db):
    job = add_job(toro_db, status="failed", queue="mailers", properties=failed_properties())
    client = monitor()
    page = client.get("/jobs/bulk/retry?queue=mailers&status=failed")
    assert page.status_code == 200 and "<html" in page.text and "bulk-dialog" in page.text
    form = {"_csrf_token": client.token, "queue": "mailers", "status": "failed"}  # type: ignore[attr-defined]
    answer = client.post("/jobs/bulk/retry", data={**form, "upto": hidden(page.text, "upto")})
    assert (
        answer.status_code == 200 and "<html" in answer.text and 'data-changed="1"' in answer.text
    )
    assert status(toro_db, job) == "queued"
    assert 'href="/jobs?queue=mailers&amp;status=failed"' in answer.text  # back to the list


# ------------------------------------------------------------------ queues: pause, resume, limits


def test_pause_and_resume_a_queue(monitor, toro_db):
    add_job(toro_db, queue="mailers", status="queued")
    add_job(toro_db, queue="reports", status="complete")
    client = monitor()
    page = client.get("/queues").text
    assert 'action="/queues/pause"' in page and 'data-paused="false"' in page
    paused = client.post("/queues/pause", data={"queue": "mailers"}, headers=posting(client))
    assert paused.status_code == 200 and paused.text.lstrip().startswith('<div id="queues"')
    assert "Queue mailers: paused" in paused.text
    row = paused.text.split('data-queue="mailers"')[1].split("</tr>")[0]
    assert 'data-paused="true"' in row and 'action="/queues/resume"' in row
    assert scalar(toro_db, "SELECT paused_by FROM toro_queues WHERE name = 'mailers'") == "monitor"
    twice = client.post("/queues/pause", data={"queue": "mailers"}, headers=posting(client))
    assert "was paused already" in twice.text
    plain = client.post(
        "/queues/resume",
        data={"queue": "mailers", "_csrf_token": client.token},  # type: ignore[attr-defined]
        follow_redirects=False,
    )
    assert plain.status_code == 303 and plain.headers["location"] == "/queues"
    assert scalar(toro_db, "SELECT paused_at FROM toro_queues WHERE name = 'mailers'") is None
    again = client.post("/queues/resume", data={"queue": "mailers"}, headers=posting(client))
    assert "was not paused" in again.text


def test_queues_page_shows_processes_limits_and_a_queue_nobody_serves(monitor, toro_db):
    for _ in range(2):
        add_job(toro_db, queue="mailers", status="queued")
    add_job(toro_db, queue="reports", status="running")
    with psycopg.connect(toro_db, autocommit=True) as conn:
        store = CoreSyncStore(connection=conn)
        store.set_queue_limit("reports", 3)
        store.pause_queue("idle", "ops")  # a queue with no job: shown, paused
        conn.execute(
            "INSERT INTO toro_processes (id, host, pid, queues, concurrency) VALUES"
            " ('00000000-0000-0000-0000-0000000000aa', 'w1', 1, '{reports,default}', 10)"
        )
    text = monitor().get("/queues", headers=HX).text

    def row(queue: str) -> str:
        return text.split(f'data-queue="{queue}"')[1].split("</tr>")[0]

    assert "0 / 3" in row("reports") and ">1 (10)<" in row("reports")
    assert "no process" in row("mailers") and "no process" not in row("reports")
    assert 'data-paused="true"' in row("idle") and "by ops" in row("idle")
    assert 'data-limit="queue:reports"' in text  # the limits table


# ------------------------------------------------------------------ why a job waits


def test_a_waiting_jobs_detail_says_why_it_waits(monitor, make_app, toro_db, start_worker):
    from limit_workers import RUNS_TABLE as LIMIT_RUNS
    from limit_workers import ThreeAtATime

    with psycopg.connect(toro_db, autocommit=True) as conn:
        conn.execute(LIMIT_RUNS)
    with as_default(make_app()):
        ids = ThreeAtATime.perform_bulk([(5.0,)] * 5)
    start_worker("-r", "limit_workers", "-c", "10")
    wait_for(
        lambda: scalar(toro_db, "SELECT count(*) FROM toro_jobs WHERE status = 'blocked'") == 2
    )
    blocked = scalar(toro_db, "SELECT min(id) FROM toro_jobs WHERE status = 'blocked'")
    client = monitor()
    text = client.get(f"/jobs/{blocked}", headers=HX).text
    assert "Waits for a free slot of its limit &#39;limit_workers.ThreeAtATime&#39;" in text, text
    assert "3 of 3 running, 2 waiting" in text
    running = scalar(toro_db, "SELECT min(id) FROM toro_jobs WHERE status = 'running'")
    assert "Waiting</dt>" not in client.get(f"/jobs/{running}", headers=HX).text
    assert len(ids) == 5

    paused = add_job(toro_db, queue="held", status="queued")
    with psycopg.connect(toro_db, autocommit=True) as conn:
        CoreSyncStore(connection=conn).pause_queue("held", "ops")
    text = client.get(f"/jobs/{paused}", headers=HX).text
    assert "Its queue &#39;held&#39; is paused" in text


def test_the_reasons_for_rate_and_queue_limits():
    from datetime import UTC, datetime

    from toro_monitor.waiting import reason

    rate = {"rate": 50, "per_seconds": 1.0, "recent_starts": 50, "concurrency": None}
    job = {
        "status": "scheduled",
        "queue": "default",
        "limit_key": "app.Ping",
        "scheduled_at": datetime(2026, 12, 1, 10, 0, 1, tzinfo=UTC),
    }
    assert reason(job, set(), {"app.Ping": rate}) == (
        "Waits for room in its rate limit 'app.Ping': 50 starts per 1 s, 50 in the current "
        "window (next try at 10:00:01)."
    )
    full = {"concurrency": 2, "running": 2, "rate": None}
    queued = {"status": "queued", "queue": "mail", "limit_key": None}
    assert "Its queue's limit is full: 2 of 2 running" in str(
        reason(queued, set(), {"queue:mail": full})
    )
    assert reason(queued, set(), {"queue:mail": {**full, "running": 1}}) is None
    assert reason({**queued, "status": "running"}, set(), {}) is None
