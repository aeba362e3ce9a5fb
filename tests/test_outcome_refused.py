"""A value the database refuses (a user's expression index cannot cast it) never stops a worker."""

from __future__ import annotations

import psycopg
from workers_basic import ReturnsProperties

from toro_core.testing import rows, wait_for


def test_refused_outcome_is_isolated_and_the_worker_goes_on(toro_app, toro_db, start_worker):
    with psycopg.connect(toro_db, autocommit=True) as conn:
        conn.execute("CREATE INDEX by_count ON toro_jobs (((properties->>'count')::int))")
    ids = ReturnsProperties.perform_bulk([(1,), ("many",), (3,)])
    worker = start_worker("-r", "workers_basic", plugins=["properties"])
    wait_for(
        lambda: (
            len(rows(toro_db, "SELECT 1 FROM toro_jobs WHERE status IN ('complete', 'failed')"))
            == 3
        )
    )
    found = dict(rows(toro_db, "SELECT id, status FROM toro_jobs"))
    assert found[ids[0]] == found[ids[2]] == "complete"
    bad = rows(toro_db, "SELECT status, properties FROM toro_jobs WHERE id = %s", (ids[1],))[0]
    assert bad[0] == "complete" and "count" not in bad[1]
    assert "invalid input syntax" in bad[1]["properties:rejected"]["*"]
    assert worker.popen.poll() is None
    ReturnsProperties.perform_async(4)
    wait_for(
        lambda: rows(toro_db, "SELECT count(*) FROM toro_jobs WHERE status = 'complete'")[0][0] == 4
    )
