"""toro-monitor through Litestar's test client: every page, partial and action, hostile input."""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Iterator

import psycopg
import pytest
import toro_example_plugin.plugin as example_plugin
import toro_monitor.plugin as monitor_plugin
import toro_retry.plugin
from litestar.testing import TestClient
from monitor_support import XSS, add_job, csrf_token, failed_properties, row_ids, walk_pages
from toro_monitor import MonitorOptions, create_app
from toro_monitor.options import AuthConfigError

from toro_core import hookimpl
from toro_core.app import Toro
from toro_core.testing import rows, scalar

HX = {"HX-Request": "true"}


@pytest.fixture
def monitor(make_app: Callable[..., Toro]) -> Iterator[Callable[..., TestClient]]:
    """``monitor(options=None, plugins=(...))``: a test client on a monitor for this database."""
    clients: list[TestClient] = []

    def build(
        options: MonitorOptions | None = None, plugins: tuple[object, ...] = ()
    ) -> TestClient:
        toro = make_app(plugins=[monitor_plugin, example_plugin, *plugins])
        client = TestClient(create_app(toro, options or MonitorOptions(basic_auth=None)))
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


# ------------------------------------------------------------------ jobs list


def test_jobs_page_full_and_partial(monitor, toro_db):
    job = add_job(toro_db, queue="mailers", class_name="app.Mail", name="welcome mail")
    client = monitor()
    full = client.get("/jobs")
    assert full.status_code == 200
    assert "<html" in full.text and "htmx-2.0.11.min.js" in full.text
    assert f'id="job-{job}"' in full.text and "welcome mail" in full.text
    # polls pause while the tab is hidden: monitor.js cancels them (no eval'd trigger filter)
    # ... and the list also refreshes at once after a bulk action
    assert 'hx-trigger="every 3000ms, toro-jobs-changed from:body"' in full.text
    assert "/static/monitor.js" in full.text
    partial = client.get("/jobs", headers=HX)
    assert partial.status_code == 200
    assert "<html" not in partial.text and partial.text.lstrip().startswith('<div id="results"')
    # a history restore gets the whole page again
    restore = client.get("/jobs", headers={**HX, "HX-History-Restore-Request": "true"})
    assert "<html" in restore.text
    assert client.get("/", follow_redirects=False).headers["location"] == "/jobs"


def test_filters_combine(monitor, toro_db):
    a = add_job(
        toro_db,
        queue="mailers",
        class_name="app.Mail",
        status="failed",
        name="alpha",
        properties=failed_properties(),
    )
    b = add_job(toro_db, queue="mailers", class_name="app.Mail", status="complete", name="beta")
    c = add_job(
        toro_db,
        queue="reports",
        class_name="app.Report",
        status="failed",
        name="alphabet",
        properties=failed_properties(),
    )
    client = monitor()

    def ids(query: str) -> set[int]:
        response = client.get(f"/jobs?{query}", headers=HX)
        assert response.status_code == 200, response.text
        return set(row_ids(response.text))

    assert ids("status=failed") == {a, c}
    assert ids("queue=mailers") == {a, b}
    assert ids("class=app.Report") == {c}
    assert ids("q=ALPHA") == {a, c}
    assert ids("q=alpha&queue=mailers&status=failed&class=app.Mail") == {a}
    assert ids("q=%25") == set()  # LIKE wildcards are searched literally
    page = client.get("/jobs?queue=mailers&status=failed").text
    assert 'value="mailers"' in page and '<option value="failed" selected>' in page


@pytest.mark.parametrize(
    "sort", ["created", "queue", "class", "status", "name", "started", "duration"]
)
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_every_sort_pages_through_everything(monitor, toro_db, sort, direction):
    made = [
        add_job(
            toro_db,
            queue=f"q{i % 3}",
            class_name=f"app.W{i % 4}",
            name=None if i % 2 else f"n{i % 5}",
            status=["queued", "complete", "failed", "running"][i % 4],
            duration=(i * 7) % 11,
            age=100 - i,
        )
        for i in range(13)
    ]
    client = monitor(MonitorOptions(basic_auth=None, page_size=4))
    in_q1 = [job for i, job in enumerate(made) if i % 3 == 1]
    # without a filter the list walks an index; with one it collects the few matches first
    for extra, expected in (("", made), ("&queue=q1", in_q1)):
        seen = walk_pages(client, f"/jobs?sort={sort}&dir={direction}{extra}", 10)
        assert sorted(seen) == sorted(expected)  # every job once, none twice


def test_sort_by_duration_orders_rows(monitor, toro_db):
    short = add_job(toro_db, duration=1)
    long = add_job(toro_db, duration=50)
    middle = add_job(toro_db, duration=10)
    queued = add_job(toro_db, status="queued")
    client = monitor()
    assert row_ids(client.get("/jobs?sort=duration", headers=HX).text) == [
        long,
        middle,
        short,
        queued,
    ]
    assert row_ids(client.get("/jobs?sort=duration&dir=asc", headers=HX).text) == [
        short,
        middle,
        long,
        queued,
    ]


@pytest.mark.parametrize(
    "query",
    [
        "sort=bogus",
        "sort=id;drop table toro_jobs",
        "dir=sideways",
        "status=exploded",
        "colour=red",
        "after=!!!",
        "after=" + base64.urlsafe_b64encode(b'["x", "y"]').decode(),
        "queue=a&queue=b",
        "q=" + "x" * 300,
    ],
)
def test_unknown_sort_or_filter_is_refused(monitor, toro_db, query):
    response = monitor().get(f"/jobs?{query}")
    assert response.status_code == 400
    assert scalar(toro_db, "SELECT to_regclass('toro_jobs') IS NOT NULL")


def test_hostile_values_are_escaped(monitor, toro_db):
    job = add_job(
        toro_db,
        args=[XSS, {"k": XSS}],
        name=XSS,
        queue=XSS,
        class_name=XSS,
        status="failed",
        properties={**failed_properties(XSS), XSS: {"nested": [XSS]}},
    )
    client = monitor()
    for url in ("/jobs", f"/jobs/{job}", "/queues", "/chart", f"/jobs?queue={XSS}"):
        for headers in ({}, HX):
            text = client.get(url, headers=headers).text
            assert XSS not in text, url
            assert "alert(" not in text or "&lt;script&gt;" in text or "&#39;xss&#39;" in text
    detail = client.get(f"/jobs/{job}").text
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in detail


# ------------------------------------------------------------------ detail and retry


def test_job_detail_shows_everything(monitor, toro_db):
    job = add_job(
        toro_db,
        status="failed",
        name="report 7",
        args=[7, {"user": "ann"}],
        properties={**failed_properties("disk full"), "tenant": {"id": 3, "tags": ["a", "b"]}},
        attempt=3,
    )
    client = monitor(plugins=(toro_retry.plugin,))
    page = client.get(f"/jobs/{job}")
    assert page.status_code == 200 and "<html" in page.text
    text = page.text
    # the retry history is toro-retry's section, shown once (the monitor renders no copy)
    assert text.count('data-view="Retries"') == 1 and "Retried attempts" not in text
    for expected in (
        "tests.workers.Noop",
        "report 7",
        "&#34;user&#34;: &#34;ann&#34;",
        "RuntimeError",
        "disk full",
        "Traceback (most recent call last)",
        "TimeoutError",
        "first try timed out",
        "host-a:4242",
        "tenant",
        "tags",
    ):
        assert expected in text, expected
    modal = client.get(f"/jobs/{job}", headers=HX)
    assert "<html" not in modal.text and 'id="job-detail"' in modal.text
    assert client.get("/jobs/999999").status_code == 404


def test_job_detail_shows_the_result_escaped(monitor, toro_db):
    returned = add_job(toro_db)
    with psycopg.connect(toro_db, autocommit=True) as conn:
        conn.execute(
            "UPDATE toro_jobs SET result = %s::jsonb WHERE id = %s",
            (f'{{"rows": 42, "note": "{XSS}"}}', returned),
        )
    nothing = add_job(toro_db)
    client = monitor()
    text = client.get(f"/jobs/{returned}").text
    assert "<h3>Result</h3>" in text and "&#34;rows&#34;: 42" in text
    assert XSS not in text and html.escape(XSS, quote=True).replace("&#x27;", "&#39;") in text
    assert "<h3>Result</h3>" not in client.get(f"/jobs/{nothing}").text


def test_retry_needs_the_cross_site_token(monitor, toro_db):
    job = add_job(toro_db, status="failed", properties=failed_properties())
    client = monitor()
    client.get("/jobs")  # sets the token cookie
    assert client.post(f"/jobs/{job}/retry", headers=HX).status_code == 403
    assert (
        client.post(f"/jobs/{job}/retry", headers={**HX, "x-toro-csrf": "forged"}).status_code
        == 403
    )
    other = monitor()  # a token from another session (cookie) does not fit
    token = csrf_token(other.get(f"/jobs/{job}").text)
    assert (
        client.post(f"/jobs/{job}/retry", headers={**HX, "x-toro-csrf": token}).status_code == 403
    )
    assert scalar(toro_db, "SELECT status FROM toro_jobs WHERE id = %s", (job,)) == "failed"


def test_retry_row_in_place_keeps_history(monitor, toro_db):
    job = add_job(toro_db, status="failed", properties=failed_properties("boom 1"), attempt=2)
    client = monitor()
    token = csrf_token(client.get("/jobs").text)
    response = client.post(f"/jobs/{job}/retry?view=row", headers={**HX, "x-toro-csrf": token})
    assert response.status_code == 200
    assert response.text.strip().startswith(f'<tr id="job-{job}" data-status="queued"')
    ((status, props),) = rows(
        toro_db, "SELECT status, properties FROM toro_jobs WHERE id = %s", (job,)
    )
    assert status == "queued"
    assert props["retried:count"] == 1 and "retried:at" in props
    assert props["retried:history"][0]["message"] == "boom 1"
    assert props["retry:errors"][0]["class"] == "TimeoutError"
    assert "error:class" not in props
    # a second press changes nothing: the update is fenced on status
    again = client.post(f"/jobs/{job}/retry?view=row", headers={**HX, "x-toro-csrf": token})
    assert "not failed" in again.text
    assert (
        scalar(toro_db, "SELECT properties->>'retried:count' FROM toro_jobs WHERE id = %s", (job,))
        == "1"
    )


def test_retry_from_detail_and_without_javascript(monitor, toro_db):
    job = add_job(toro_db, status="failed", properties=failed_properties())
    other = add_job(toro_db, status="failed", properties=failed_properties())
    client = monitor()
    page = client.get(f"/jobs/{job}").text
    token = csrf_token(page)
    detail = client.post(f"/jobs/{job}/retry?view=detail", headers={**HX, "x-toro-csrf": token})
    assert 'id="job-detail"' in detail.text and "Queued again." in detail.text
    assert "Queued again by hand" in detail.text
    # a plain form post (no htmx) carries the token as a form field and is redirected
    form = client.post(f"/jobs/{other}/retry", data={"_csrf_token": token}, follow_redirects=False)
    assert form.status_code == 303 and form.headers["location"] == f"/jobs/{other}"
    assert scalar(toro_db, "SELECT count(*) FROM toro_jobs WHERE status = 'queued'") == 2


# ------------------------------------------------------------------ queues, chart, processes


def test_queues_page_and_partial(monitor, toro_db):
    for status, n in (("complete", 3), ("failed", 2), ("queued", 1)):
        for _ in range(n):
            add_job(toro_db, queue="mailers", status=status)
    add_job(toro_db, queue="reports", status="exotic_plugin_status")
    client = monitor()
    page = client.get("/queues").text
    assert (
        "<svg" in page and 'data-queue="mailers"' in page and "#198754" in page
    )  # complete colour
    assert "exotic_plugin_status" in page  # unknown statuses still shown, in grey
    partial = client.get("/queues", headers=HX).text
    assert partial.lstrip().startswith('<div id="queues"') and "<html" not in partial


def test_chart_splits_queues_by_regex(monitor, toro_db):
    for queue in ("mail_high", "report_high", "mail_low", "default"):
        add_job(toro_db, queue=queue)
    charts = {"ALL": "Everything", "_high$": "High", "_low$": "Low", "OTHER": "The rest"}
    client = monitor(MonitorOptions(basic_auth=None, charts=charts))
    text = client.get("/chart", headers=HX).text
    figures = text.split('<figure class="histogram"')[1:]
    titles = [f.split('data-title="')[1].split('"')[0] for f in figures]
    assert titles == ["Everything", "High", "Low", "The rest"]
    queues = [
        set(
            part.split('data-queue="')[i].split('"')[0]
            for i in range(1, part.count('data-queue="') + 1)
        )
        for part in figures
    ]
    assert queues == [
        {"mail_high", "report_high", "mail_low", "default"},
        {"mail_high", "report_high"},
        {"mail_low"},
        {"default"},
    ]
    assert "<html" in client.get("/chart").text


def test_processes_page(monitor, toro_db):
    running = add_job(toro_db, status="running", class_name="app.Slow", name="slow one")
    rows(
        toro_db,
        """INSERT INTO toro_processes (id, host, pid, queues, concurrency)
                     VALUES ('00000000-0000-0000-0000-000000000001', 'host-a', 4242,
                             '{default,mailers}', 5)
                     RETURNING id""",
    )
    rows(
        toro_db,
        "UPDATE toro_jobs SET locked_by = '00000000-0000-0000-0000-000000000001' WHERE id = %s "
        "RETURNING id",
        (running,),
    )
    client = monitor()
    text = client.get("/processes").text
    assert "host-a:4242" in text and "default, mailers" in text and f"#{running}" in text
    assert "app.Slow" in text and "slow one" in text
    assert client.get("/processes", headers=HX).text.lstrip().startswith('<div id="processes"')


# ------------------------------------------------------------------ scale code paths


def test_estimates_and_windows_on_a_large_table(monitor, toro_db):
    for i in range(60):
        add_job(
            toro_db,
            queue=f"q{i % 2}",
            status="failed" if i % 10 == 0 else "complete",
            name=f"job {i}",
            properties=failed_properties() if i % 10 == 0 else None,
        )
    with psycopg.connect(toro_db, autocommit=True) as conn:
        conn.execute("ANALYZE toro_jobs")
    options = MonitorOptions(
        basic_auth=None, count_threshold=10, sort_window=20, search_window=30, sample_percent=100
    )
    client = monitor(options)
    text = client.get("/jobs", headers=HX).text
    assert "<strong>~" in text  # above the threshold the count is an estimate
    text = client.get("/jobs?sort=duration", headers=HX).text
    assert "sorted among the newest 20 jobs" in text
    assert "searched among the newest 30 jobs" in client.get("/jobs?q=job", headers=HX).text
    queues = client.get("/queues", headers=HX).text
    assert "(estimated)" in queues  # complete: 54 jobs, sampled
    assert "~" in queues
    failed = client.get("/jobs?status=failed", headers=HX).text
    assert "<strong>6</strong>" in failed  # small enough to count exactly
    # read group by group: counted up to the threshold, then estimated
    for url in ("/jobs?queue=q0", "/jobs?status=complete", "/jobs?sort=queue"):
        assert "<strong>~" in client.get(url, headers=HX).text, url
    assert "<strong>6</strong>" in client.get("/jobs?queue=q0&status=failed", headers=HX).text


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("sample_percent", 0, "sample_percent must be above 0"),
        ("sample_percent", 101, "at most 100"),
        ("sample_rows", 0, "sample_rows must be at least 1"),
    ],
)
def test_bad_sample_options_are_refused(option, value, says):
    with pytest.raises(ValueError, match=says):
        MonitorOptions(basic_auth=None, **{option: value})


def test_the_histogram_sample_stops_growing_with_the_table(monitor, toro_db):
    """With ``sample_rows`` below the table's size the sample shrinks below ``sample_percent``:
    a sample of 1 row's worth of blocks out of 60 jobs is smaller than the whole table, so
    the estimate differs from the exact count that sample_percent=100 gives."""
    for _ in range(60):
        add_job(toro_db, queue="q0", status="complete")
    with psycopg.connect(toro_db, autocommit=True) as conn:
        conn.execute("ANALYZE toro_jobs")
        pages = conn.execute("SELECT relpages FROM pg_class WHERE relname = 'toro_jobs'")
        assert pages.fetchone()[0] >= 1
    whole = dict(basic_auth=None, count_threshold=10, sample_percent=100)
    assert "~60" in monitor(MonitorOptions(**whole)).get("/queues", headers=HX).text
    bounded = monitor(MonitorOptions(**whole, sample_rows=1)).get("/queues", headers=HX).text
    assert "~60" not in bounded


# ------------------------------------------------------------------ plugin views and static files


def test_example_plugin_job_view_follows_its_predicate(monitor, toro_db):
    timed = add_job(
        toro_db,
        properties={"example:elapsed_ms": 12.5, "example:wrapped_by": "toro-example-plugin"},
    )
    plain = add_job(toro_db)
    client = monitor()
    text = client.get(f"/jobs/{timed}").text
    assert "Timing (example plugin)" in text and "12.500 ms" in text
    assert "Timing (example plugin)" not in client.get(f"/jobs/{plain}").text
    assert "/static/toro_example_plugin/timing.css" in text


def test_example_plugin_page_view(monitor, toro_db):
    timed = add_job(toro_db, properties={"example:elapsed_ms": 99.0})
    client = monitor()
    assert 'href="/example/timings"' in client.get("/jobs").text
    page = client.get("/example/timings")
    assert page.status_code == 200 and f"#{timed}" in page.text and "99.000" in page.text
    assert client.get("/example/timings", headers=HX).text.lstrip().startswith('<div id="page"')


def test_static_files_come_from_a_fixed_list(monitor):
    client = monitor()
    htmx = client.get("/static/htmx-2.0.11.min.js")
    assert htmx.status_code == 200 and "javascript" in htmx.headers["content-type"]
    assert client.get("/static/toro_example_plugin/timing.css").status_code == 200
    for name in (
        "../app.py",
        "..%2Fapp.py",
        "monitor.py",
        "toro_example_plugin/../../plugin.py",
        "/etc/passwd",
        "htmx.min.js",
    ):
        assert client.get(f"/static/{name}").status_code == 404, name


# ------------------------------------------------------------------ auth


def test_basic_auth(monitor):
    client = monitor(MonitorOptions(basic_auth=("ops", "s3cret")))
    refused = client.get("/jobs")
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Basic")
    assert client.get("/static/monitor.css").status_code == 401
    assert client.get("/jobs", auth=("ops", "wrong")).status_code == 401
    assert client.get("/jobs", auth=("ops", "s3cret")).status_code == 200


def test_basic_auth_from_environment(monkeypatch):
    monkeypatch.setenv("TORO_MONITOR_USER", "ops")
    monkeypatch.setenv("TORO_MONITOR_PASSWORD", "pw")
    assert MonitorOptions().basic_auth == ("ops", "pw")
    monkeypatch.delenv("TORO_MONITOR_PASSWORD")
    with pytest.raises(AuthConfigError, match="TORO_MONITOR_PASSWORD is not"):
        MonitorOptions()  # half configured is an error, not auth silently off
    monkeypatch.delenv("TORO_MONITOR_USER")
    assert MonitorOptions().basic_auth is None


def test_monitor_authorize_hook(monitor):
    class OnlyWithHeader:
        @hookimpl
        def monitor_authorize(self, request, app):
            return request.headers.get("x-team") == "ops"

    class AsyncAbstainer:
        @hookimpl
        def monitor_authorize(self, request, app):
            async def decide():
                return None

            return decide()

    client = monitor(plugins=(OnlyWithHeader(), AsyncAbstainer()))
    assert client.get("/jobs").status_code == 401
    assert client.get("/jobs", headers={"x-team": "ops"}).status_code == 200


def test_plugin_statuses_appear_in_filter_badges_and_histograms(monitor, toro_db):
    from toro_core import Status

    class Paused:
        @hookimpl
        def statuses(self):
            return [Status("paused", "Paused", "#8250df", final=False)]

    job = add_job(toro_db, status="paused", queue="imports")
    client = monitor(plugins=(Paused(),))
    page = client.get("/jobs").text
    assert '<option value="paused"' in page
    assert '<span class="badge" data-status="paused">Paused<' in page
    css = client.get("/static/statuses.css")
    assert css.headers["content-type"].startswith("text/css")
    assert '.badge[data-status="paused"] { --badge: #8250df; }' in css.text
    assert row_ids(client.get("/jobs?status=paused", headers=HX).text) == [job]
    assert 'fill="#8250df"' in client.get("/queues", headers=HX).text
