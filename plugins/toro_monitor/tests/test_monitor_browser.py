"""The monitor in a real Chromium (Playwright driving Debian's chromium package).

Set ``TORO_MONITOR_SCREENSHOTS=1`` to write the screenshots of each page to docs/screenshots/
(the README shows them); otherwise they go to the test's temporary folder.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import toro_example_plugin.plugin as example_plugin
import toro_monitor.plugin as monitor_plugin
from browser_support import BROWSER, chromium_page, serve, shot
from monitor_support import add_job, failed_properties
from toro_monitor import MonitorOptions, create_app

from toro_core.store import CoreSyncStore
from toro_core.testing import rows, scalar

pytestmark = BROWSER


@pytest.fixture
def served(make_app) -> Iterator[str]:
    """The monitor (with the example plugin's views) served by uvicorn in a thread; its URL."""
    toro = make_app(plugins=[monitor_plugin, example_plugin])
    charts = {
        "ALL": "All queues",
        "_high$": "High priority",
        "_low$": "Low priority",
        "OTHER": "Default priority",
    }
    app = create_app(toro, MonitorOptions(basic_auth=None, poll_interval=1000, charts=charts))
    with serve(app) as url:
        yield url


@pytest.fixture
def page(tmp_path: Path):  # type: ignore[no-untyped-def]
    with chromium_page() as opened:
        yield opened


def seed(toro_db: str) -> dict[str, int]:
    queues = ["default", "mailers", "reports_high", "imports_low"]
    for i in range(24):
        add_job(
            toro_db,
            queue=queues[i % 4],
            class_name=["app.SendEmail", "app.BuildReport", "app.Import"][i % 3],
            name=f"job {i}" if i % 2 else None,
            status=["complete", "complete", "queued", "complete", "running"][i % 5],
            duration=(i * 37) % 23 + 0.25,
            age=500 - i * 10,
            args=[i, {"user": f"u{i}"}],
            kwargs={"notify": True} if i % 4 == 1 else None,
            priority=10 if i % 7 == 0 else 0,
            properties={"example:elapsed_ms": 12.0 + i, "example:wrapped_by": "toro-example-plugin"}
            if i % 3 == 0
            else {},
        )
    failed = add_job(
        toro_db,
        queue="mailers",
        class_name="app.SendEmail",
        status="failed",
        name="welcome",
        duration=4.5,
        properties=failed_properties("SMTP said no"),
        attempt=2,
    )
    slow_failed = add_job(
        toro_db,
        queue="reports_high",
        class_name="app.BuildReport",
        status="failed",
        duration=40.0,
        properties=failed_properties("out of memory"),
    )
    timed = add_job(
        toro_db,
        properties={"example:elapsed_ms": 842.5, "example:wrapped_by": "toro-example-plugin"},
    )
    plain = add_job(toro_db, name="untimed")
    rows(
        toro_db,
        """INSERT INTO toro_processes (id, host, pid, queues, concurrency)
                     VALUES ('00000000-0000-0000-0000-0000000000aa', 'worker-1', 3141,
                             '{default,mailers}', 10) RETURNING id""",
    )
    rows(
        toro_db,
        """UPDATE toro_jobs SET locked_by = '00000000-0000-0000-0000-0000000000aa'
                      WHERE status = 'running' RETURNING id""",
    )
    return {"failed": failed, "slow_failed": slow_failed, "timed": timed, "plain": plain}


def test_filter_sort_detail_retry(served, page, toro_db, tmp_path):
    jobs = seed(toro_db)
    page.goto(f"{served}/jobs")
    page.wait_for_selector("table.jobs tbody tr")
    shot(page, "jobs", tmp_path)

    page.select_option("#filter-status", "failed")
    page.wait_for_function(
        "() => { const r = document.querySelectorAll('table.jobs tbody tr[data-status]');"
        " return r.length === 2 && [...r].every(t => t.dataset.status === 'failed'); }"
    )
    assert "status=failed" in page.url

    page.click("a.sort[data-sort='duration']")
    page.wait_for_function("() => location.search.includes('sort=duration')")
    page.wait_for_selector("a.sort.sorted-desc[data-sort='duration']")
    ids = page.eval_on_selector_all("table.jobs tbody tr[data-status]", "rs => rs.map(r => r.id)")
    assert ids == [f"job-{jobs['slow_failed']}", f"job-{jobs['failed']}"]
    assert "status=failed" in page.url  # the filter survives the sort

    # the badges take their colours from the statuses' stylesheet (no inline style)
    colour = page.eval_on_selector(
        f"#job-{jobs['failed']} .badge", "e => getComputedStyle(e).backgroundColor"
    )
    assert colour == "rgb(220, 53, 69)"
    page.click(f"#job-{jobs['failed']} a.job-link")
    page.wait_for_selector("#modal #job-detail")
    detail = page.inner_text("#modal #job-detail")
    assert "SMTP said no" in detail and "RuntimeError" in detail and "TimeoutError" in detail
    shot(page, "job", tmp_path)

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#modal #job-detail form.retry button")
    page.wait_for_selector("#modal #job-detail .badge[data-status='queued']")
    assert "Queued again." in page.inner_text("#modal #job-detail")
    assert (
        scalar(toro_db, "SELECT status FROM toro_jobs WHERE id = %s", (jobs["failed"],)) == "queued"
    )

    page.keyboard.press("Escape")
    page.wait_for_selector("#modal #job-detail", state="detached")
    # the list refreshes itself: the retried job leaves the "failed" filter
    page.wait_for_selector(f"#job-{jobs['failed']}", state="detached", timeout=10_000)


def test_retry_button_in_the_row(served, page, toro_db):
    jobs = seed(toro_db)
    page.goto(f"{served}/jobs?status=failed")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(f"#job-{jobs['slow_failed']} form.retry button")
    page.wait_for_selector(f"#job-{jobs['slow_failed']}[data-status='queued']")
    assert (
        scalar(toro_db, "SELECT status FROM toro_jobs WHERE id = %s", (jobs["slow_failed"],))
        == "queued"
    )
    # dismissing the confirmation does nothing
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click(f"#job-{jobs['failed']} form.retry button")
    time.sleep(0.5)
    assert (
        scalar(toro_db, "SELECT status FROM toro_jobs WHERE id = %s", (jobs["failed"],)) == "failed"
    )


def test_example_view_follows_its_predicate(served, page, toro_db, tmp_path):
    jobs = seed(toro_db)
    page.goto(f"{served}/jobs/{jobs['timed']}")
    page.wait_for_selector(".plugin-view .example-timing")
    assert "842.500 ms" in page.inner_text(".plugin-view")
    colour = page.eval_on_selector(".example-timing strong", "e => getComputedStyle(e).color")
    assert colour == "rgb(130, 80, 223)"  # the view's own stylesheet was served and applied
    page.goto(f"{served}/jobs/{jobs['plain']}")
    page.wait_for_selector("#job-detail")
    assert page.query_selector(".example-timing") is None
    page.goto(f"{served}/example/timings")
    page.wait_for_selector("table.example-timings")
    assert f"#{jobs['timed']}" in page.inner_text("table.example-timings")
    shot(page, "example-page", tmp_path)


def test_other_pages(served, page, toro_db, tmp_path):
    seed(toro_db)
    with psycopg.connect(toro_db, autocommit=True) as conn:
        store = CoreSyncStore(connection=conn)
        store.pause_queue("imports_low", "ops")
        store.set_queue_limit("reports_high", 2)
    page.goto(f"{served}/queues")
    page.wait_for_selector("svg.hbar rect")
    page.wait_for_selector("tr[data-queue='imports_low'][data-paused='true'] form.queue-resume")
    assert "0 / 2" in page.inner_text("tr[data-queue='reports_high']")
    shot(page, "queues", tmp_path)
    page.goto(f"{served}/chart")
    page.wait_for_selector("figure.histogram svg rect")
    titles = page.eval_on_selector_all("figure.histogram", "fs => fs.map(f => f.dataset.title)")
    assert titles == ["All queues", "High priority", "Low priority", "Default priority"]
    shot(page, "chart", tmp_path)
    page.goto(f"{served}/processes")
    page.wait_for_selector("tr[data-process='worker-1:3141']")
    assert "worker-1:3141" in page.inner_text("#processes")
    shot(page, "processes", tmp_path)


def test_polls_pause_while_the_tab_is_hidden(served, page, toro_db):
    seed(toro_db)

    def is_poll(request) -> bool:  # type: ignore[no-untyped-def]
        return "/processes" in request.url

    page.goto(f"{served}/processes")
    page.wait_for_selector("#processes")
    page.wait_for_event("request", is_poll, timeout=10_000)  # every second while visible
    page.evaluate(
        "() => Object.defineProperty(document, 'visibilityState',"
        " {configurable: true, get: () => 'hidden'})"
    )
    page.wait_for_timeout(500)  # a request already under way may finish
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if is_poll(r) else None)
    page.wait_for_timeout(2500)
    assert polls == []
    page.evaluate("() => delete document.visibilityState")
    page.wait_for_event("request", is_poll, timeout=10_000)
