"""toro-scheduler's monitor page (``/scheduled``) through Litestar's test client."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta

import psycopg
import pytest
import toro_monitor.plugin as monitor_plugin
import toro_scheduler.plugin as scheduler_plugin
from litestar import Litestar
from litestar.testing import TestClient
from monitor_support import XSS, add_job
from scheduler_workers import Stamp
from toro_monitor import MonitorOptions, MonitorPlugin, create_app
from toro_scheduler.monitor import cut, relative, span

from toro_core.app import Toro
from toro_core.testing import as_default, scalar, wait_for

HX = {"HX-Request": "true"}
ESCAPED = "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;"


@pytest.fixture
def scheduler_app(make_app: Callable[..., Toro]) -> Iterator[Toro]:
    """An app with the scheduler and monitor plugins, the process default (for perform_in)."""
    with as_default(make_app(plugins=[scheduler_plugin, monitor_plugin])) as app:
        yield app


@pytest.fixture
def client(scheduler_app: Toro) -> Iterator[TestClient]:
    with TestClient(create_app(scheduler_app, MonitorOptions(basic_auth=None))) as test_client:
        yield test_client


def page_rows(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr id="scheduled-(\d+)"', html)]


def add_schedule(conninfo: str, **row: object) -> None:
    """Record a schedule as a worker process would have."""
    values = {
        "queue": "default",
        "kind": "cron",
        "expression": "0 7 * * *",
        "timezone": "UTC",
        "catch_up": 300.0,
        "args": [],
        "seen_by": "host-a:1",
        **row,
    }
    values["args"] = json.dumps(values["args"])
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO toro_schedules (name, queue, kind, expression, timezone, catch_up, args,"
            " seen_by) VALUES (%(name)s, %(queue)s, %(kind)s, %(expression)s, %(timezone)s,"
            " %(catch_up)s, %(args)s::jsonb, %(seen_by)s)",
            values,
        )


# ------------------------------------------------------------------ upcoming jobs


def test_page_lists_upcoming_jobs_in_due_order_and_is_in_the_navigation(client, toro_db):
    later = Stamp.perform_in(timedelta(hours=2), {"report": 7})
    soon = Stamp.perform_in(30, "soon")
    Stamp.perform_async("not scheduled")
    page = client.get("/scheduled")
    assert page.status_code == 200 and "<html" in page.text
    text = page.text
    assert page_rows(text) == [soon.id, later.id]
    assert f'href="/jobs/{soon.id}"' in text and f'href="/jobs/{later.id}"' in text
    assert "scheduler_workers.Stamp" in text and "<td>default</td>" in text
    assert "[&#34;soon&#34;]" in text and "&#34;report&#34;: 7" in text
    assert re.search(r">in (29|30) s<", text), text
    assert ">in 2 h 0 min<" in text or ">in 1 h 59 min<" in text
    assert soon.scheduled_at.strftime("%Y-%m-%d %H:%M:%SZ") in text
    assert "2 job(s) waiting for their time" in text
    assert 'href="/jobs?status=scheduled"' in text

    jobs = client.get("/jobs").text
    assert '<a href="/scheduled" >Scheduled</a>' in jobs
    assert 'href="/scheduled" class="active"' in text

    partial = client.get("/scheduled", headers=HX).text
    assert partial.lstrip().startswith('<div id="page"') and "<html" not in partial
    assert page_rows(partial) == [soon.id, later.id]


def test_detail_of_a_scheduled_job_opens_from_the_page(client, toro_db):
    job = Stamp.perform_in(600, "later")
    link = re.search(rf'href="(/jobs/{job.id})"', client.get("/scheduled").text)
    assert link
    detail = client.get(link.group(1))
    assert detail.status_code == 200
    assert 'data-status="scheduled"' in detail.text or ">Scheduled<" in detail.text
    assert job.scheduled_at.strftime("%Y-%m-%d %H:%M:%S") in detail.text
    modal = client.get(link.group(1), headers=HX).text
    assert 'id="job-detail"' in modal and "<html" not in modal


def test_due_jobs_not_yet_promoted_and_empty_page(client, toro_db):
    empty = client.get("/scheduled").text
    assert "No job is waiting for its time." in empty and "No periodic schedules recorded" in empty
    job = Stamp.perform_in(60)
    with psycopg.connect(toro_db, autocommit=True) as conn:  # no worker runs to promote it
        conn.execute(
            "UPDATE toro_jobs SET scheduled_at = now() - interval '5 minutes' WHERE id = %s",
            (job.id,),
        )
    text = client.get("/scheduled").text
    assert page_rows(text) == [job.id]
    assert re.search(r">due 5 min [0-9]+ s ago<", text), text


def test_missing_tables_are_reported_not_raised(client, toro_db):
    with psycopg.connect(toro_db, autocommit=True) as conn:
        conn.execute("DROP TABLE toro_schedules")
    page = client.get("/scheduled")
    assert page.status_code == 200
    assert "run `toro-core migrate`" in page.text


# ------------------------------------------------------------------ periodic schedules


def test_page_lists_a_periodic_schedule_a_worker_runs(client, toro_db, start_worker):
    worker = start_worker("-r", "scheduler_workers_periodic", plugins=["scheduler"])
    name = "scheduler_workers_periodic.EverySecond"
    wait_for(
        lambda: (
            scalar(
                toro_db,
                "SELECT count(*) FROM toro_schedule_ticks WHERE schedule = %s"
                " AND job_id IS NOT NULL",
                (name,),
            )
            >= 1
            and scalar(toro_db, "SELECT count(*) FROM toro_schedules WHERE name = %s", (name,)) == 1
        ),
        timeout=10,
    )
    assert worker.stop() == 0, worker.log()
    last_job = scalar(
        toro_db,
        "SELECT job_id FROM toro_schedule_ticks WHERE schedule = %s ORDER BY tick_at DESC LIMIT 1",
        (name,),
    )
    text = client.get("/scheduled").text
    row = re.search(rf'<tr data-schedule="{re.escape(name)}">(.*?)</tr>', text, re.S)
    assert row, text
    cells = row.group(1)
    assert "* * * * * *" in cells and "Europe/Paris" in cells
    assert "[&#34;tick&#34;]" in cells
    assert f'href="/jobs/{last_job}"' in cells
    assert "CET" in cells or "CEST" in cells  # ticks also shown in the schedule's zone
    assert len(re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", cells)) == 1 + 3  # last + next 3
    assert "by " in cells and "(no worker since)" not in cells


def test_stored_schedule_that_cannot_be_computed_and_a_stale_one(client, toro_db):
    add_schedule(toro_db, name="old.Nightly", kind="interval", expression="86400")
    add_schedule(toro_db, name="bad.Zone", timezone="Mars/Olympus")
    with psycopg.connect(toro_db, autocommit=True) as conn:
        conn.execute(
            "UPDATE toro_schedules SET seen_at = now() - interval '2 days'"
            " WHERE name = 'old.Nightly'"
        )
    text = client.get("/scheduled").text
    nightly = re.search(r'<tr data-schedule="old.Nightly">(.*?)</tr>', text, re.S)
    assert nightly and "every 1d" in nightly.group(1)
    assert "00:00:00Z" in nightly.group(1)  # interval ticks are aligned to the epoch
    assert "2 d 0 h ago (no worker since)" in nightly.group(1)
    assert "none yet" in nightly.group(1)
    bad = re.search(r'<tr data-schedule="bad.Zone">(.*?)</tr>', text, re.S)
    assert bad and "next runs cannot be computed" in bad.group(1)
    assert "Mars/Olympus" in bad.group(1)


# ------------------------------------------------------------------ hostile values, mounting


def test_hostile_values_are_escaped(client, toro_db):
    job = add_job(
        toro_db, args=[XSS, {XSS: XSS}], name=XSS, queue=XSS, class_name=XSS, status="scheduled"
    )
    with psycopg.connect(toro_db, autocommit=True) as conn:
        conn.execute(
            "UPDATE toro_jobs SET scheduled_at = now() + interval '1 hour' WHERE id = %s", (job,)
        )
        conn.execute(
            "INSERT INTO toro_schedule_ticks (schedule, tick_at, job_id)"
            " VALUES (%s, now() - interval '1 minute', %s)",
            (XSS, job),
        )
    add_schedule(
        toro_db, name=XSS, queue=XSS, expression=XSS, timezone=XSS, args=[XSS], seen_by=XSS
    )
    for headers in ({}, HX):
        text = client.get("/scheduled", headers=headers).text
        assert page_rows(text) == [job]
        assert XSS not in text
        assert text.count(ESCAPED) >= 8, text
        assert "next runs cannot be computed" in text


def test_links_keep_the_mount_path(scheduler_app, toro_db):
    job = Stamp.perform_in(60)
    add_schedule(toro_db, name="mounted.Daily")
    host = Litestar(
        plugins=[
            MonitorPlugin(
                scheduler_app, path="/ops/monitor", options=MonitorOptions(basic_auth=None)
            )
        ]
    )
    with TestClient(host) as test_client:
        assert 'href="/ops/monitor/scheduled"' in test_client.get("/ops/monitor/jobs").text
        text = test_client.get("/ops/monitor/scheduled").text
        assert f'href="/ops/monitor/jobs/{job.id}"' in text
        assert 'hx-get="/ops/monitor/scheduled"' in text
        assert 'href="/ops/monitor/jobs?status=scheduled"' in text
        assert test_client.get(f"/ops/monitor/jobs/{job.id}").status_code == 200


def test_entry_points_bring_the_page(make_app, toro_db, monkeypatch):
    monkeypatch.setenv("TORO_PLUGINS", "scheduler,monitor")
    app = make_app(load_entry_points=True)
    with TestClient(create_app(app, MonitorOptions(basic_auth=None))) as test_client:
        assert '<a href="/scheduled" >Scheduled</a>' in test_client.get("/jobs").text
        assert test_client.get("/scheduled").status_code == 200


def test_the_plugin_needs_neither_litestar_nor_the_monitor():
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('litestar', 'toro_monitor', 'jinja2'):\n"
        "            raise ImportError(f'blocked: {name}')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import toro_scheduler.plugin as p\n"
        "assert p.worker_options() and p.migrations()\n"
        "from toro_core import Toro\n"
        "Toro('dbname=x', plugins=[p], load_entry_points=False)  # monitor hook left pending\n"
        "assert 'toro_scheduler.monitor' not in sys.modules\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


# ------------------------------------------------------------------ formatting


def test_formatting_helpers():
    assert [span(s) for s in (0, 42.4, 119.6, 303, 7_800, 3 * 86_400 + 4 * 3600)] == [
        "0 s",
        "42 s",
        "2 min 0 s",
        "5 min 3 s",
        "2 h 10 min",
        "3 d 4 h",
    ]
    assert relative(30) == "in 30 s" and relative(-3.2) == "due 3 s ago"
    assert cut('[1, {"a": "é"}]', 160) == '[1, {"a": "é"}]'
    long = cut('["' + "x" * 500 + '"]', 160)
    assert len(long) == 160 and long.endswith("…")


def test_page_queries_walk_the_scheduled_index(scheduler_app, toro_db):
    from toro_scheduler.sql import query

    with psycopg.connect(toro_db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO toro_jobs (queue, class_name, args, status, scheduled_at)"
            " SELECT 'default', 'x.Y', '[]', CASE WHEN i % 100 = 0 THEN 'scheduled'"
            " ELSE 'complete' END, now() + make_interval(secs => i)"
            " FROM generate_series(1, 20000) AS i"
        )
        conn.execute("ANALYZE toro_jobs")
        for name, params in (
            ("upcoming_jobs", {"limit": 50}),
            ("monitor_upcoming_jobs", {"limit": 50, "cut": 201, "args_cut": 161}),
            ("monitor_count_scheduled", {"cap": 10_001}),
        ):
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + query(name), params))
            assert "toro_jobs_scheduled" in plan and "Seq Scan" not in plan, plan
