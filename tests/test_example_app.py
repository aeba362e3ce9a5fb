"""The application-style suite in examples/toro_example_app passes, on the default server and on
a server reached as another user through TORO_TEST_DATABASE_URL."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg

from toro_core.testing import with_database

APP = Path(__file__).parent.parent / "examples" / "toro_example_app"


def run_suite(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly"],
        cwd=APP,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_example_app_suite_passes(toro_server_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TORO_")}
    env["TORO_TEST_DATABASE_URL"] = toro_server_url
    done = run_suite(env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 passed" in done.stdout


def test_any_user_through_toro_test_database_url(toro_server_url):
    role = f"toro_tester_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(toro_server_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN CREATEDB")
    try:
        url = with_database(toro_server_url, "postgres").replace("user=postgres", f"user={role}")
        env = {k: v for k, v in os.environ.items() if not k.startswith("TORO_")}
        env["TORO_TEST_DATABASE_URL"] = url
        done = run_suite(env)
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        with psycopg.connect(toro_server_url, autocommit=True) as conn:
            for (name,) in conn.execute(
                "SELECT datname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba"
                " WHERE r.rolname = %s",
                (role,),
            ).fetchall():
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f"DROP ROLE IF EXISTS {role}")
