"""The Overview page of toro-metrics in a real Chromium: the monitor lands on it, its charts
show the jobs a worker ran, minute by minute, and it refreshes itself as more jobs finish."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import toro_metrics.plugin as metrics_plugin
import toro_monitor.plugin as monitor_plugin
from browser_support import BROWSER, chromium_page, serve, shot
from metrics_workers import Boom, Quick
from toro_monitor import MonitorOptions, create_app

from toro_core.testing import as_default, rows, scalar, wait_for

pytestmark = BROWSER


@pytest.fixture
def served(make_app) -> Iterator[str]:
    toro = make_app(plugins=[monitor_plugin, metrics_plugin])
    app = create_app(toro, MonitorOptions(basic_auth=None, poll_interval=1000))
    with serve(app) as url:
        yield url


@pytest.fixture
def page(tmp_path: Path):  # type: ignore[no-untyped-def]
    with chromium_page(height=900) as opened:  # fails on any CSP refusal too
        yield opened


def run_jobs(make_app, start_worker, db: str, complete: int, failed: int) -> None:
    """Enqueue jobs, run them in a worker with toro-metrics, stop it (the rollup is written)."""
    before = scalar(db, "SELECT count(*) FROM toro_jobs")
    with as_default(make_app()):
        Quick.perform_bulk([(i,) for i in range(complete)])
        if failed:
            Boom.perform_bulk([(i,) for i in range(failed)])
    worker = start_worker("-r", "metrics_workers", "-q", "fast", plugins=["metrics"])
    total = before + complete + failed
    wait_for(lambda: scalar(db, "SELECT count(*) FROM toro_jobs WHERE locked_by IS NULL "
                                "AND status IN ('complete', 'failed')") == total)  # fmt: skip
    assert worker.stop() == 0


def test_overview_charts_the_jobs_and_refreshes(
    served, page, make_app, start_worker, toro_db, tmp_path
):
    run_jobs(make_app, start_worker, toro_db, complete=30, failed=5)
    page.goto(f"{served}/")
    page.wait_for_selector("figure[data-chart='minutes'] g.bar", state="attached")
    assert page.url == f"{served}/overview"
    assert page.inner_text("nav a.active") == "Overview"
    shown = page.eval_on_selector_all(
        "figure[data-chart='minutes'] g.bar",
        "gs => gs.map(g => [g.dataset.start, +g.dataset.complete, +g.dataset.failed])",
    )
    assert len(shown) == 60
    expected = {
        minute.isoformat(): [complete, failed]
        for minute, complete, failed in rows(
            toro_db,
            """SELECT date_trunc('minute', finished_at),
                      count(*) FILTER (WHERE status = 'complete'),
                      count(*) FILTER (WHERE status = 'failed')
                 FROM toro_jobs GROUP BY 1""",
        )
    }
    assert {start: [c, f] for start, c, f in shown if c or f} == expected
    # the bars are drawn: the tallest reaches the chart's height
    heights = page.eval_on_selector_all(
        "figure[data-chart='minutes'] rect", "rs => rs.map(r => r.getBBox().height)"
    )
    assert max(heights) > 0
    assert page.inner_text("[data-kpi='complete'] strong") == "30"
    assert page.inner_text("[data-kpi='failed'] strong") == "5"
    assert "fast" in page.inner_text("table.waits")
    shot(page, "overview", tmp_path)

    # more jobs finish: the page polls and shows them without a reload
    run_jobs(make_app, start_worker, toro_db, complete=12, failed=0)
    page.wait_for_function(
        "() => document.querySelector(\"[data-kpi='complete'] strong\").textContent === '42'",
        timeout=15_000,
    )
    assert page.url == f"{served}/overview"
