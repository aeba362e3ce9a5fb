"""Entry points, the example plugin, the CLI and migrations."""

from __future__ import annotations

import subprocess
import threading
import uuid

import psycopg
from workers_basic import Noop

from toro_core import Toro, migrate
from toro_core.plugins import ALLOW_ENV, BLOCK_ENV
from toro_core.testing import rows, run_toro, scalar, wait_for, with_database


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_toro(*args, env=env)


def test_example_plugin_found_through_its_entry_point_and_wraps_every_job(
    toro_app, toro_db, start_worker
):
    ids = Noop.perform_bulk([(i,) for i in range(20)])
    start_worker("-r", "workers_basic", plugins=["example"])
    wait_for(
        lambda: scalar(toro_db, "SELECT count(*) FROM toro_jobs WHERE status = 'complete'") == 20
    )
    wrapped = rows(
        toro_db,
        "SELECT properties->>'example:wrapped_by', (properties->>'example:elapsed_ms')::float"
        " FROM toro_jobs WHERE id = ANY(%s)",
        (ids,),
    )
    assert all(by == "toro-example-plugin" and ms >= 0 for by, ms in wrapped)


def test_example_plugin_blocked_by_environment(toro_app, toro_db, start_worker):
    job = Noop.perform_async()
    start_worker("-r", "workers_basic", env={ALLOW_ENV: "", BLOCK_ENV: "example"})
    wait_for(
        lambda: (
            scalar(toro_db, "SELECT status FROM toro_jobs WHERE id = %s", (job.id,)) == "complete"
        )
    )
    assert "example:wrapped_by" not in scalar(
        toro_db, "SELECT properties FROM toro_jobs WHERE id = %s", (job.id,)
    )


def test_allow_and_block_lists(toro_db, monkeypatch):
    monkeypatch.delenv(ALLOW_ENV, raising=False)
    monkeypatch.setenv(BLOCK_ENV, "example")
    names = {name for name, _ in Toro(toro_db).plugin_manager.list_name_plugin()}
    assert "example" not in names and "core" in names
    monkeypatch.delenv(BLOCK_ENV)
    monkeypatch.setenv(ALLOW_ENV, "example")
    names = {name for name, _ in Toro(toro_db).plugin_manager.list_name_plugin()}
    assert names == {"example", "core"}


def test_plugins_command_lists_installed_plugins_and_hooks(toro_db):
    out = cli("plugins", "--database-url", toro_db)
    assert out.returncode == 0, out.stderr
    assert "toro-example-plugin 0.1.0" in out.stdout and "around_job" in out.stdout
    for name in ("retry", "scheduler", "properties", "monitor", "core"):
        assert name in out.stdout


def test_missing_and_unreachable_database_are_one_clear_line():
    out = cli("status")
    assert out.returncode == 1
    assert out.stderr.strip().count("\n") == 0 and "TORO_DATABASE_URL" in out.stderr
    assert "Traceback" not in out.stderr
    out = cli(
        "start", env={"TORO_DATABASE_URL": "postgresql://postgres:secret@127.0.0.1:1/nowhere"}
    )
    assert out.returncode == 1 and out.stderr.strip().count("\n") == 0, out.stderr
    assert "127.0.0.1" in out.stderr and "port=1" in out.stderr and "secret" not in out.stderr


def test_start_refuses_an_unmigrated_database(toro_server_url):
    name = f"toro_t_unmigrated_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(toro_server_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    try:
        out = cli("start", "--database-url", with_database(toro_server_url, name))
        assert out.returncode == 1 and "toro-core migrate" in out.stderr
    finally:
        with psycopg.connect(toro_server_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_migrate_is_idempotent_concurrent_and_printable(toro_server_url):
    names = [f"toro_t_mig_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    with psycopg.connect(toro_server_url, autocommit=True) as conn:
        for name in names:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name}")
    try:
        url = with_database(toro_server_url, names[0])
        results: list[subprocess.CompletedProcess[str]] = []
        threads = [
            threading.Thread(target=lambda: results.append(cli("migrate", "--database-url", url)))
            for _ in range(3)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [r.returncode for r in results] == [0, 0, 0], [r.stderr for r in results]
        app = Toro(url)
        expected = len(app.migrations())
        assert scalar(url, "SELECT count(*) FROM toro_migrations") == expected
        assert "0 applied now" in cli("migrate", "--database-url", url).stdout

        # The printed SQL builds the same schema in an empty database.
        sql = cli("migrate", "--sql").stdout
        other = with_database(toro_server_url, names[1])
        with psycopg.connect(other, autocommit=True) as conn:
            conn.execute(sql.encode())
        columns = (
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_name LIKE 'toro%%' ORDER BY 1, 2"
        )
        assert rows(url, columns) == rows(other, columns)
        assert scalar(other, "SELECT count(*) FROM toro_migrations") == expected
        assert migrate.apply(other, app.migrations()) == []
    finally:
        with psycopg.connect(toro_server_url, autocommit=True) as conn:
            for name in names:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_schema_has_the_seed_columns(toro_db):
    cols = dict(
        rows(
            toro_db,
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_name = 'toro_jobs'",
        )
    )
    for name in ("queue", "class_name", "name", "started_by", "status"):
        assert cols[name] == "text"
    for name in ("created_at", "scheduled_at", "started_at", "finished_at"):
        assert cols[name] == "timestamp with time zone"
    assert cols["args"] == cols["properties"] == "jsonb"


def test_status_command(toro_app, toro_db):
    Noop.perform_bulk([(1,), (2,)])
    out = cli("status", "--database-url", toro_db)
    assert out.returncode == 0 and "default" in out.stdout and "queued" in out.stdout
    out = cli("status", "--json", "--database-url", toro_db)
    import json

    data = json.loads(out.stdout)
    assert data["counts"] == [{"queue": "default", "status": "queued", "jobs": 2}]


def test_bad_option_values_are_clear_errors():
    out = cli("start", env={"TORO_CONCURRENCY": "many", "TORO_DATABASE_URL": "dbname=x"})
    assert out.returncode == 2 and "'many' is not a whole number" in out.stderr
    refused = {
        ("-c", "0"): "--concurrency: '0' is not a whole number of at least 1",
        ("-c", "5000"): "concurrency must be between 1 and 1000",
        ("--batch-size", "0"): "--batch-size: '0' is not a whole number of at least 1",
        ("--poll-interval", "0"): "--poll-interval: '0' is not a number of seconds above 0",
        ("--poll-interval", "nan"): "--poll-interval: 'nan' is not a number of seconds above 0",
        ("--shutdown-timeout", "-5"): "--shutdown-timeout: '-5' is not a number of seconds, 0",
        ("-q", ""): "queue names must be non-empty",
    }
    for args, message in refused.items():
        out = cli("start", *args, env={"TORO_DATABASE_URL": "dbname=x"})
        assert out.returncode in (1, 2) and message in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr
