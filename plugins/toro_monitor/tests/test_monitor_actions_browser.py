"""The monitor's job-control actions in a real Chromium (Playwright driving Debian's chromium
package): cancel a running job of a worker process started through the CLI, bulk-retry the
failed jobs of a filter behind a confirmation that states their count, pause and resume a
queue. The page helper fails the test on any refusal of the page's CSP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import toro_monitor.plugin as monitor_plugin
import toro_retry.plugin
from browser_support import BROWSER, chromium_page, serve, shot
from control_workers import RUNS_TABLE, LongAsync
from monitor_support import add_job, failed_properties
from toro_monitor import MonitorOptions, create_app

from toro_core.testing import as_default, scalar, wait_for

pytestmark = BROWSER


@pytest.fixture
def served(make_app) -> Iterator[str]:
    """The monitor served by uvicorn in a thread, polling every second; its URL."""
    toro = make_app(plugins=[monitor_plugin, toro_retry.plugin])
    app = create_app(toro, MonitorOptions(basic_auth=None, poll_interval=1000))
    with serve(app) as url:
        yield url


@pytest.fixture
def page(tmp_path: Path):  # type: ignore[no-untyped-def]
    with chromium_page() as opened:
        yield opened


def status(db: str, job_id: int) -> str:
    return str(scalar(db, "SELECT status FROM toro_jobs WHERE id = %s", (job_id,)))


def test_cancel_a_running_job(served, page, make_app, toro_db, start_worker):
    with psycopg.connect(toro_db, autocommit=True) as conn:
        conn.execute(RUNS_TABLE)
    with as_default(make_app(plugins=[toro_retry.plugin])):
        job = LongAsync.perform_async("long", 30)
    start_worker("-r", "control_workers", plugins=["retry"])
    wait_for(lambda: status(toro_db, job.id) == "running")
    page.goto(f"{served}/jobs")
    row = f"#job-{job.id}"
    page.wait_for_selector(f"{row}[data-status='running'] form.cancel button")
    messages: list[str] = []

    def accept(dialog) -> None:  # type: ignore[no-untyped-def]
        messages.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.click(f"{row} form.cancel button")
    # the row is replaced in place, then the list's poll shows the job cancelled
    page.wait_for_selector(f"{row}[data-status='cancelled']", timeout=10_000)
    assert messages == [f"Cancel job {job.id}? Its process stops it; it ends cancelled."]
    assert status(toro_db, job.id) == "cancelled"
    assert scalar(toro_db, "SELECT count(*) FROM control_runs WHERE key = 'long'") == 1
    assert page.query_selector(f"{row} form.cancel") is None


def test_bulk_retry_of_the_failed_jobs_of_a_filter(served, page, toro_db, tmp_path):
    mine = [
        add_job(toro_db, queue="mailers", status="failed", properties=failed_properties(f"e{i}"))
        for i in range(3)
    ]
    other = add_job(toro_db, queue="reports", status="failed", properties=failed_properties())
    add_job(toro_db, queue="mailers", status="complete", priority=10, kwargs={"user_id": 3})
    page.goto(f"{served}/jobs?queue=mailers&status=failed")
    page.wait_for_selector("table.jobs tbody tr[data-status='failed']")
    url = page.url

    page.click("button[data-bulk='retry']")
    page.wait_for_selector("#modal #bulk-dialog[data-count='3']")
    text = page.inner_text("#modal #bulk-dialog")
    assert "3 failed jobs match" in text and "queue mailers" in text and "status failed" in text
    assert page.url == url  # the filter form did not submit, the URL did not change
    assert all(status(toro_db, j) == "failed" for j in mine)  # counting changed nothing
    shot(page, "bulk-retry", tmp_path)

    page.click("#modal #bulk-dialog form.bulk-apply button[type='submit']")
    page.wait_for_selector("#modal #bulk-dialog[data-changed='3']")
    assert "3 jobs queued again" in page.inner_text("#modal #bulk-dialog")
    assert [status(toro_db, j) for j in mine] == ["queued"] * 3
    assert status(toro_db, other) == "failed"
    # the list refreshed itself: no failed job is left under these filters
    page.wait_for_selector("table.jobs tbody td.empty", timeout=5_000)
    page.click("#modal #bulk-dialog [data-close-modal]")
    page.wait_for_selector("#modal #bulk-dialog", state="detached")
    assert page.url == url

    # a confirmation dismissed changes nothing
    page.select_option("#filter-status", "")
    page.wait_for_function("() => !location.search.includes('status=failed')")
    page.click("button[data-bulk='cancel']")
    page.wait_for_selector("#modal #bulk-dialog[data-count='3']")  # the three queued again
    page.keyboard.press("Escape")
    page.wait_for_selector("#modal #bulk-dialog", state="detached")
    assert [status(toro_db, j) for j in mine] == ["queued"] * 3


def test_pause_and_resume_a_queue(served, page, toro_db):
    add_job(toro_db, queue="mailers", status="queued")
    add_job(toro_db, queue="reports", status="complete")
    page.goto(f"{served}/queues")
    row = "tr[data-queue='mailers']"
    page.wait_for_selector(f"{row}[data-paused='false'] form.queue-pause")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(f"{row} form.queue-pause button")
    page.wait_for_selector(f"{row}[data-paused='true'] form.queue-resume")
    assert "Queue mailers: paused" in page.inner_text("#queues")
    assert scalar(toro_db, "SELECT paused_at IS NOT NULL FROM toro_queues WHERE name = 'mailers'")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(f"{row} form.queue-resume button")
    page.wait_for_selector(f"{row}[data-paused='false']")
    assert scalar(toro_db, "SELECT paused_at FROM toro_queues WHERE name = 'mailers'") is None
