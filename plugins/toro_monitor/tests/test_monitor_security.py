"""The monitor's security headers, Origin check and auth configuration (real PostgreSQL)."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
import toro_example_plugin.plugin as example_plugin
import toro_metrics.plugin as metrics_plugin
import toro_monitor.plugin as monitor_plugin
import toro_scheduler.plugin as scheduler_plugin
from litestar import Litestar, get
from litestar.testing import TestClient
from monitor_support import add_job, csrf_token, failed_properties
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient as StarletteClient
from toro_monitor import MonitorOptions, MonitorPlugin, asgi_app, create_app
from toro_monitor.options import AuthConfigError
from toro_monitor.origins import normal_origin
from toro_monitor.security import CSP

from toro_core import hookimpl
from toro_core.app import Toro
from toro_core.testing import scalar

HX = {"HX-Request": "true"}
OPEN = MonitorOptions(basic_auth=None)


@pytest.fixture
def monitor(make_app: Callable[..., Toro]) -> Iterator[Callable[..., TestClient]]:
    """``monitor(options=OPEN, plugins=(...))``: a test client on a monitor for this database."""
    clients: list[TestClient] = []

    def build(options: MonitorOptions = OPEN, plugins: tuple[object, ...] = ()) -> TestClient:
        toro = make_app(
            plugins=[monitor_plugin, example_plugin, scheduler_plugin, metrics_plugin, *plugins]
        )
        client = TestClient(create_app(toro, options))
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


def assert_protected(response, cache: str | None = "no-store") -> None:  # type: ignore[no-untyped-def]
    """The headers every monitor response carries."""
    headers = response.headers
    assert headers["content-security-policy"] == CSP, response.request.url
    assert "frame-ancestors 'none'" in CSP and "script-src 'self'" in CSP
    assert "unsafe-inline" not in CSP and "unsafe-eval" not in CSP
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"
    if cache is not None:
        assert headers["cache-control"] == cache, response.request.url


# ------------------------------------------------------------------ headers


def test_every_response_carries_the_headers(monitor, toro_db):
    job = add_job(toro_db, status="failed", properties=failed_properties())
    client = monitor()
    for url in (
        "/jobs",
        f"/jobs/{job}",
        "/queues",
        "/chart",
        "/processes",
        "/example/timings",
        "/scheduled",
        "/overview",
    ):
        for headers in ({}, HX):  # page and partial
            response = client.get(url, headers=headers)
            assert response.status_code == 200, url
            assert_protected(response)
    for url in (
        "/static/monitor.js",
        "/static/statuses.css",
        "/static/toro_example_plugin/timing.css",
    ):
        response = client.get(url)
        assert response.status_code == 200
        assert_protected(response, cache="public, max-age=3600")  # no auth: anyone may cache
    # errors too
    assert_protected(client.get("/jobs?sort=nope"))
    assert_protected(client.get("/jobs/999999"))
    assert_protected(client.get("/nowhere"))
    assert_protected(client.get("/", follow_redirects=False))
    assert_protected(client.get("/metrics"))  # a plugin's plain endpoint
    # actions: refused (no token) and done
    assert_protected(client.post(f"/jobs/{job}/retry", headers=HX))
    token = csrf_token(client.get(f"/jobs/{job}").text)
    done = client.post(f"/jobs/{job}/retry?view=row", headers={**HX, "x-toro-csrf": token})
    assert done.status_code == 200
    assert_protected(done)


def test_behind_auth_static_files_are_private(monitor):
    client = monitor(MonitorOptions(basic_auth=("ops", "pw")))
    refused = client.get("/jobs")
    assert refused.status_code == 401
    assert_protected(refused)
    for url in ("/static/monitor.css", "/static/statuses.css"):
        response = client.get(url, auth=("ops", "pw"))
        assert_protected(response, cache="private, max-age=3600")
    for header in ("Basic \u00ff\u00ff", "Basic " + "A" * 10_001, "Basic !!", "basic", "Bearer x"):
        garbage = client.get("/jobs", headers={"authorization": header.encode("latin-1")})
        assert garbage.status_code == 401, header[:20]

    class Header:
        @hookimpl
        def monitor_authorize(self, request, app):
            return request.headers.get("x-team") == "ops"

    hooked = monitor(plugins=(Header(),))  # the authorize hook counts as auth as well
    response = hooked.get("/static/monitor.css", headers={"x-team": "ops"})
    assert_protected(response, cache="private, max-age=3600")


def test_pages_need_no_inline_script_or_style(monitor, toro_db):
    """What the CSP forbids is absent from every page: the proof is the browser test (it
    fails on any CSP refusal); this names the rule for the templates."""
    job = add_job(
        toro_db,
        status="failed",
        properties={**failed_properties(), "example:elapsed_ms": 3.0, "deep": [[[[1]]]]},
    )
    client = monitor()
    pages = ("/jobs", f"/jobs/{job}", "/queues", "/chart", "/processes", "/scheduled", "/overview")
    for url in pages:
        text = client.get(url).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), url
        assert not re.search(r"\sstyle=|\son[a-z]+=|hx-on|javascript:|<style", text), url
        assert "[document." not in text  # no htmx trigger filter: htmx would need eval
    meta = re.search(r'name="htmx-config" content=\'([^\']*)\'', client.get("/jobs").text)
    assert meta and '"allowEval": false' in meta.group(1)
    assert '"includeIndicatorStyles": false' in meta.group(1)


def test_mounted_apps_carry_the_same_headers(make_app, toro_db):
    job = add_job(toro_db, status="failed", properties=failed_properties())
    toro = make_app(plugins=[monitor_plugin])

    @get("/")
    async def index() -> str:
        return "host app"

    host = Litestar(route_handlers=[index], plugins=[MonitorPlugin(toro, "/ops", options=OPEN)])
    with TestClient(host) as client:
        assert "content-security-policy" not in client.get("/").headers  # the host's own
        for url in ("/ops/jobs", f"/ops/jobs/{job}", "/ops/static/monitor.js", "/ops/jobs?x=1"):
            assert_protected(client.get(url), cache=None)
        assert client.get("/ops/jobs").headers["cache-control"] == "no-store"
    starlette = Starlette(routes=[Mount("/monitor", app=asgi_app(toro, OPEN))])
    with StarletteClient(starlette) as client:
        assert_protected(client.get("/monitor/jobs"))
        assert_protected(client.post(f"/monitor/jobs/{job}/retry", headers=HX))


# ------------------------------------------------------------------ Origin


def test_cross_origin_posts_are_refused(monitor, toro_db):
    job = add_job(toro_db, status="failed", properties=failed_properties())
    client = monitor()
    token = csrf_token(client.get(f"/jobs/{job}").text)
    headers = {**HX, "x-toro-csrf": token}
    url = f"/jobs/{job}/retry?view=row"
    for sender in (
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"origin": "http://testserver.local.evil.example"},
        {"origin": "http://testserver.local:8080"},
        {"origin": "not a url"},
        {"referer": "https://evil.example/page"},
        {"origin": "https://evil.example", "referer": "http://testserver.local/jobs"},
    ):
        refused = client.post(url, headers={**headers, **sender})
        assert refused.status_code == 403, sender
        assert "Origin" in refused.text
        assert_protected(refused)
    assert scalar(toro_db, "SELECT status FROM toro_jobs WHERE id = %s", (job,)) == "failed"
    same = client.post(url, headers={**headers, "origin": "http://TestServer.local:80"})
    assert same.status_code == 200 and 'data-status="queued"' in same.text


def test_same_site_referer_or_none_passes_with_the_token(monitor, toro_db):
    a = add_job(toro_db, status="failed", properties=failed_properties())
    b = add_job(toro_db, status="failed", properties=failed_properties())
    client = monitor()
    token = csrf_token(client.get("/jobs").text)
    headers = {**HX, "x-toro-csrf": token}
    referred = client.post(
        f"/jobs/{a}/retry?view=row", headers={**headers, "referer": "http://testserver.local/jobs"}
    )
    assert referred.status_code == 200
    assert client.post(f"/jobs/{b}/retry?view=row", headers=headers).status_code == 200
    # the Origin check does not replace the token: a same-origin POST without it is refused
    c = add_job(toro_db, status="failed", properties=failed_properties())
    no_token = client.post(f"/jobs/{c}/retry", headers={**HX, "origin": "http://testserver.local"})
    assert no_token.status_code == 403


def test_allowed_origins_for_a_proxy_that_rewrites_host(monitor, toro_db):
    job = add_job(toro_db, status="failed", properties=failed_properties())
    client = monitor(MonitorOptions(basic_auth=None, allowed_origins=("https://Ops.Example.com/",)))
    token = csrf_token(client.get("/jobs").text)
    response = client.post(
        f"/jobs/{job}/retry?view=row",
        headers={**HX, "x-toro-csrf": token, "origin": "https://ops.example.com:443"},
    )
    assert response.status_code == 200
    with pytest.raises(ValueError, match="not an origin"):
        MonitorOptions(basic_auth=None, allowed_origins=("ops.example.com",))
    with pytest.raises(ValueError, match="not an origin"):
        MonitorOptions(basic_auth=None, allowed_origins=("ftp://ops.example.com",))


def test_origins_are_compared_in_normal_form():
    assert normal_origin("HTTPS://Ops.Example.COM:443/x?y") == "https://ops.example.com"
    assert normal_origin("http://[::1]:8000") == "http://[::1]:8000"
    for bad in ("null", "ftp://x", "http://", "http://[::1", "http://h:99999", "javascript:1"):
        assert normal_origin(bad) is None, bad


# ------------------------------------------------------------------ auth configuration


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TORO_MONITOR_USER": "ops"}, "TORO_MONITOR_USER is set but TORO_MONITOR_PASSWORD is not"),
        ({"TORO_MONITOR_PASSWORD": "pw"}, "TORO_MONITOR_PASSWORD is set but TORO_MONITOR_USER"),
        ({"TORO_MONITOR_USER": "ops", "TORO_MONITOR_PASSWORD": ""}, "PASSWORD is empty"),
        ({"TORO_MONITOR_USER": "", "TORO_MONITOR_PASSWORD": "pw"}, "USER is empty"),
        ({"TORO_MONITOR_USER": "a:b", "TORO_MONITOR_PASSWORD": "pw"}, "may not contain ':'"),
    ],
)
def test_half_configured_auth_is_a_startup_error(make_app, monkeypatch, env, message):
    for name in ("TORO_MONITOR_USER", "TORO_MONITOR_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    toro = make_app(plugins=[monitor_plugin])
    for build in (
        lambda: MonitorOptions(),
        lambda: create_app(toro),
        lambda: asgi_app(toro),
        lambda: MonitorPlugin(toro, "/ops"),
    ):
        with pytest.raises(AuthConfigError, match=re.escape(message)):
            build()


def test_explicit_basic_auth_is_checked_too():
    for pair in (("", "pw"), ("ops", ""), ("a:b", "pw")):
        with pytest.raises(AuthConfigError):
            MonitorOptions(basic_auth=pair)


def test_toro_core_monitor_refuses_half_configured_auth_in_one_line(toro_db):
    env = {**os.environ, "TORO_DATABASE_URL": toro_db, "TORO_PLUGINS": "monitor"}
    env["TORO_MONITOR_USER"] = "ops"
    env.pop("TORO_MONITOR_PASSWORD", None)
    done = subprocess.run(
        [sys.executable, "-m", "toro_core", "monitor", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0] == (
        "toro-core: error: TORO_MONITOR_USER is set but TORO_MONITOR_PASSWORD is not:"
        " set both for basic auth, or neither"
    )
    bad = subprocess.run(
        [sys.executable, "-m", "toro_core", "monitor", "--poll-interval", "5"],
        env={**env, "TORO_MONITOR_PASSWORD": "pw"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1 and bad.stderr.strip().splitlines() == [
        "toro-core: error: monitor: poll_interval must be at least 250 ms"
    ]


class Records(logging.Handler):
    """Collects the records of one logger (Litestar's logging setup replaces the root's
    handlers when an app starts, caplog's among them)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def monitor_log() -> Iterator[Records]:
    logger = logging.getLogger("toro.monitor")
    records = Records()
    logger.addHandler(records)
    try:
        yield records
    finally:
        logger.removeHandler(records)


def test_a_remote_client_without_auth_is_warned_about_once(monitor, monitor_log):
    client = monitor()
    client.get("/jobs")
    client.get("/queues")
    warnings = [m for m in monitor_log.messages if "without authentication" in m]
    assert len(warnings) == 1 and "'testclient'" in warnings[0]
    monitor_log.messages.clear()
    protected = monitor(MonitorOptions(basic_auth=("ops", "pw")))
    protected.get("/jobs", auth=("ops", "pw"))
    assert not [m for m in monitor_log.messages if "without authentication" in m]
