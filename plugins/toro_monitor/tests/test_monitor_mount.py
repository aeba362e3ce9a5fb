"""Mounting the monitor: inside a Litestar app (plugin), inside Starlette (plain ASGI), CLI."""

from __future__ import annotations

import re

import toro_monitor.plugin as monitor_plugin
from litestar import Litestar, get
from litestar.testing import TestClient
from monitor_support import add_job, csrf_token, failed_properties
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient as StarletteClient
from toro_monitor import MonitorOptions, MonitorPlugin, asgi_app
from toro_monitor.cli import unprotected_warning

from toro_core.cli import build_parser
from toro_core.testing import scalar

HX = {"HX-Request": "true"}


def test_litestar_plugin_mounts_under_a_path(make_app, toro_db):
    job = add_job(toro_db, status="failed", properties=failed_properties())
    toro = make_app(plugins=[monitor_plugin])

    @get("/")
    async def index() -> str:
        return "host app"

    host = Litestar(
        route_handlers=[index],
        plugins=[MonitorPlugin(toro, path="/ops/monitor", options=MonitorOptions(basic_auth=None))],
    )
    with TestClient(host) as client:
        assert client.get("/").text == "host app"
        page = client.get("/ops/monitor/jobs")
        assert page.status_code == 200
        assert f'href="/ops/monitor/jobs/{job}"' in page.text
        assert 'src="/ops/monitor/static/htmx-2.0.11.min.js"' in page.text
        assert client.get("/ops/monitor/static/monitor.css").status_code == 200
        assert client.get("/ops/monitor/jobs?sort=nope").status_code == 400
        token = csrf_token(client.get(f"/ops/monitor/jobs/{job}").text)
        retried = client.post(
            f"/ops/monitor/jobs/{job}/retry?view=row", headers={**HX, "x-toro-csrf": token}
        )
        assert retried.status_code == 200 and 'data-status="queued"' in retried.text
        home = client.get("/ops/monitor", follow_redirects=False)
        assert home.headers["location"] == "/ops/monitor/jobs"


def test_plain_asgi_app_mounts_in_starlette(make_app, toro_db):
    job = add_job(toro_db, status="failed", properties=failed_properties())
    toro = make_app(plugins=[monitor_plugin])
    host = Starlette(
        routes=[Mount("/monitor", app=asgi_app(toro, MonitorOptions(basic_auth=None)))]
    )
    with StarletteClient(host) as client:
        page = client.get("/monitor/jobs")
        assert page.status_code == 200
        assert f'href="/monitor/jobs/{job}"' in page.text
        assert (
            client.get("/monitor/queues", headers=HX).text.lstrip().startswith('<div id="queues"')
        )
        detail = client.get(f"/monitor/jobs/{job}").text
        token = csrf_token(detail)
        assert client.post(f"/monitor/jobs/{job}/retry", headers=HX).status_code == 403
        retried = client.post(
            f"/monitor/jobs/{job}/retry?view=detail", headers={**HX, "x-toro-csrf": token}
        )
        assert retried.status_code == 200
    assert scalar(toro_db, "SELECT status FROM toro_jobs WHERE id = %s", (job,)) == "queued"


def test_monitor_subcommand_is_registered(make_app):
    toro = make_app(plugins=[monitor_plugin])
    parser = build_parser(toro)
    args = parser.parse_args(["monitor", "--host", "0.0.0.0", "--port", "9001"])
    assert (args.host, args.port, args.poll_interval) == ("0.0.0.0", 9001, 3000)
    assert args.handler.__module__ == "toro_monitor.cli"


def test_loud_warning_without_auth_on_a_public_address(make_app):
    toro = make_app(plugins=[monitor_plugin])
    open_options = MonitorOptions(basic_auth=None)
    warning = unprotected_warning("0.0.0.0", 8000, open_options, toro)
    assert warning and re.search(r"WITHOUT AUTHENTICATION", warning)
    assert unprotected_warning("127.0.0.1", 8000, open_options, toro) is None
    assert unprotected_warning("::1", 8000, open_options, toro) is None
    assert unprotected_warning("localhost", 8000, open_options, toro) is None
    assert unprotected_warning("0.0.0.0", 8000, MonitorOptions(basic_auth=("a", "b")), toro) is None


def test_toro_core_monitor_serves(toro_db, tmp_path):
    """``toro-core monitor`` as a user starts it: uvicorn serves the pages; on a public address
    without auth it prints the warning first."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import urllib.request

    from toro_core.testing import wait_for

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "TORO_DATABASE_URL": toro_db, "TORO_PLUGINS": "monitor"}
    env.pop("TORO_MONITOR_USER", None)
    log = tmp_path / "monitor.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "toro_core",
                "monitor",
                "--host",
                "0.0.0.0",
                "--port",
                str(port),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:

        def answers() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/jobs", timeout=2) as r:
                    return r.status == 200
            except OSError:
                return process.poll() is not None

        wait_for(answers, timeout=30)
        assert process.poll() is None, log.read_text()
        assert "WITHOUT AUTHENTICATION" in log.read_text()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=15)
