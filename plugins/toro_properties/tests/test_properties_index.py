"""Property indexes: the planner uses them, names are safe, and workers respect their casts."""

from __future__ import annotations

import subprocess
import time

import psycopg
import pytest
from properties_workers import ReturnsCount
from toro_properties import (
    PropertyIndexError,
    create_property_index,
    drop_property_index,
    list_property_indexes,
)
from toro_properties.indexes import index_for

from toro_core.testing import rows, run_toro, scalar, wait_for

FILTER = "(properties->>'comments_count')::int > 99900"
NESTED = "(properties #>> '{user,id}')::int = 42"


def plan(conninfo: str, condition: str) -> str:
    lines = rows(conninfo, f"EXPLAIN SELECT id FROM toro_jobs WHERE {condition}")
    return "\n".join(line[0] for line in lines)


def execute(conninfo: str, *statements: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def toro_cli(conninfo: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_toro(*args, database_url=conninfo, plugins=["properties"])


def test_index_makes_the_planner_use_it_over_100000_jobs(toro_db):
    started = time.monotonic()
    execute(
        toro_db,
        """
        INSERT INTO toro_jobs (class_name, status, properties)
        SELECT 'app.Report', 'complete',
               jsonb_build_object('comments_count', g, 'user', jsonb_build_object('id', g % 5000))
          FROM generate_series(1, 100000) AS g
        """,
        "ANALYZE toro_jobs",
    )
    assert "Seq Scan" in plan(toro_db, FILTER)

    index = create_property_index(toro_db, "comments_count", "int")
    assert index.name == "toro_jobs_prop_comments_count_int"
    assert index.expression == "(properties ->> 'comments_count')::int"
    execute(toro_db, "ANALYZE toro_jobs")
    explained = plan(toro_db, FILTER)
    assert index.name in explained and "Seq Scan" not in explained, explained
    # the expression the index reports is one the planner matches
    assert index.name in plan(toro_db, f"{index.expression} > 99900")
    assert scalar(toro_db, f"SELECT count(*) FROM toro_jobs WHERE {FILTER}") == 100

    # the command line does the same for a nested path
    done = toro_cli(toro_db, "properties", "index", "user.id", "--type", "int")
    assert done.returncode == 0, done.stderr
    assert "toro_jobs_prop_user__id_int ready" in done.stdout
    assert "(properties #>> '{user,id}')::int" in done.stdout
    execute(toro_db, "ANALYZE toro_jobs")
    assert "toro_jobs_prop_user__id_int" in plan(toro_db, NESTED)
    assert scalar(toro_db, f"SELECT count(*) FROM toro_jobs WHERE {NESTED}") == 20

    listed = {(i.name, i.path, i.type, i.valid) for i in list_property_indexes(toro_db)}
    assert listed == {
        ("toro_jobs_prop_comments_count_int", ("comments_count",), "int", True),
        ("toro_jobs_prop_user__id_int", ("user", "id"), "int", True),
    }
    listing = toro_cli(toro_db, "properties", "indexes")
    assert listing.returncode == 0 and "user.id as int" in listing.stdout

    # idempotent, and droppable
    assert create_property_index(toro_db, "comments_count", "int") == index
    assert drop_property_index(toro_db, "comments_count", "int") is True
    assert drop_property_index(toro_db, "comments_count", "int") is False
    assert "Seq Scan" in plan(toro_db, FILTER)
    assert time.monotonic() - started < 20


@pytest.mark.parametrize(
    ("path", "type_name"),
    [
        ("comments_count'); DROP TABLE toro_jobs; --", "int"),
        ("a b", "text"),
        ("", "text"),
        ("user..id", "int"),
        ("1st", "int"),
        ("x" * 64, "text"),
        ("comments_count", "integer; DROP TABLE toro_jobs"),
        ("comments_count", "timestamptz"),
    ],
)
def test_names_and_types_outside_the_fixed_pattern_are_refused(toro_db, path, type_name):
    with pytest.raises(ValueError):
        create_property_index(toro_db, path, type_name)
    assert scalar(toro_db, "SELECT count(*) FROM toro_jobs") == 0  # the table is still there


def test_index_names_are_valid_and_distinct():
    plain = index_for("comments_count", "int").name
    odd = index_for("stage:name", "text").name
    similar = index_for("stage_name", "text").name
    deep = index_for(["a" * 60, "b" * 60], "bigint").name
    assert plain == "toro_jobs_prop_comments_count_int"
    assert odd != similar and odd.startswith("toro_jobs_prop_stage_name_text_")
    assert len(deep) <= 63 and deep != index_for(["a" * 60, "c" * 60], "bigint").name


def test_cli_refuses_a_bad_path_with_one_line(toro_db):
    done = toro_cli(toro_db, "properties", "index", "bad path", "--type", "int")
    assert done.returncode == 1
    assert "toro-core: error: invalid property path 'bad path'" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_build_that_existing_values_refuse_leaves_nothing_behind(toro_db):
    execute(
        toro_db,
        """INSERT INTO toro_jobs (class_name, status, properties) VALUES
           ('app.Report', 'complete', '{"comments_count": 3}'),
           ('app.Report', 'complete', '{"comments_count": "many"}')""",
    )
    with pytest.raises(PropertyIndexError, match="cannot index property 'comments_count' as int"):
        create_property_index(toro_db, "comments_count", "int")
    assert list_property_indexes(toro_db) == []
    assert (
        scalar(
            toro_db,
            "SELECT count(*) FROM pg_class WHERE relname = 'toro_jobs_prop_comments_count_int'",
        )
        == 0
    )
    # as text it works
    assert create_property_index(toro_db, "comments_count", "text").valid


def test_workers_refuse_values_an_index_cannot_cast(toro_app, toro_db, start_worker):
    create_property_index(toro_db, "comments_count", "int")
    jobs = [ReturnsCount.perform_async(value) for value in (5, "many", 2.5, 2**40, "17")]
    start_worker("-r", "properties_workers", "-c", "4", plugins=["properties"])
    ids = [job.id for job in jobs]
    final = "SELECT count(*) FROM toro_jobs WHERE id = ANY(%s) AND status = 'complete'"
    wait_for(lambda: scalar(toro_db, final, (ids,)) == len(ids), timeout=20)

    stored = dict(rows(toro_db, "SELECT id, properties FROM toro_jobs WHERE id = ANY(%s)", (ids,)))
    assert stored[ids[0]]["comments_count"] == 5 and stored[ids[4]]["comments_count"] == "17"
    for refused in ids[1:4]:
        assert stored[refused]["other"] == "kept"
        assert "comments_count" not in stored[refused]
        reason = stored[refused]["properties:rejected"]["comments_count"]
        assert "cannot be cast to int" in reason and "toro_jobs_prop_comments_count_int" in reason
    # the worker kept going: a later job runs too
    later = ReturnsCount.perform_async(8)
    status = "SELECT status FROM toro_jobs WHERE id = %s"
    wait_for(lambda: scalar(toro_db, status, (later.id,)) == "complete", timeout=10)
