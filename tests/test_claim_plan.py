"""The plain claim's statement: PostgreSQL keeps one plan for it instead of planning each claim,
and a claim takes exactly the number of jobs asked for whatever per-queue LIMIT is written in."""

from __future__ import annotations

import psycopg

from toro_core.store.claims import EXACT_UP_TO, per_queue_limit, plain_claim

OWNER = "00000000-0000-0000-0000-00000000000a"


def params(limit: int, after: int = 0) -> dict[str, object]:
    return {
        "queue": "default",
        "queues": ["default"],
        "after_rank": -101,
        "after": after,
        "limit": limit,
        "owner": OWNER,
        "started_by": "test",
        "relaxed": False,
    }


def queue_jobs(conn: psycopg.Connection, n: int) -> None:
    conn.execute(
        "INSERT INTO toro_processes (id, host, pid, queues, concurrency, meta)"
        " VALUES (%s, 'test', 1, '{default}', 10, '{}') ON CONFLICT DO NOTHING",
        (OWNER,),
    )
    conn.execute(
        "INSERT INTO toro_jobs (class_name, status, priority)"
        " SELECT 'x.Y', CASE WHEN g %% 4 = 0 THEN 'queued' ELSE 'complete' END, g %% 3"
        " FROM generate_series(1, %s) g",
        (4 * n,),
    )
    conn.execute("ANALYZE toro_jobs")


def test_per_queue_limits_are_few_and_never_below_the_limit():
    values = {per_queue_limit(limit) for limit in range(1, 1001)}
    assert len(values) <= EXACT_UP_TO + 7
    assert all(per_queue_limit(limit) >= limit for limit in range(1, 1001))
    assert [per_queue_limit(n) for n in (1, 10, 16, 17, 100)] == [1, 10, 16, 32, 128]


def test_the_plain_claim_is_planned_once_not_at_every_claim(toro_db):
    with psycopg.connect(toro_db, autocommit=True) as conn:
        queue_jobs(conn, 2_000)
        after = 0
        claimed = 0
        for _ in range(30):
            rows = conn.execute(plain_claim(10), params(10, after), prepare=True).fetchall()
            assert rows and rows[-1][0] is not None
            claimed += len(rows)
            after = max(row[0] for row in rows)
        generic, custom = conn.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE 'WITH served AS%%'"
        ).fetchone()
    assert claimed == 300
    # PostgreSQL tries five custom plans, then keeps the generic one
    assert custom <= 5 and generic >= 25, (generic, custom)


def test_a_claim_takes_exactly_what_it_asks_for_in_priority_order(toro_db):
    with psycopg.connect(toro_db, autocommit=True) as conn:
        queue_jobs(conn, 100)
        expected = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM toro_jobs WHERE status = 'queued' ORDER BY -priority, id LIMIT 17"
            )
        ]
        rows = conn.execute(plain_claim(17), params(17)).fetchall()  # a per-queue LIMIT of 32
        taken = sorted(rows, key=lambda row: (-row[14], row[0]))
        assert [row[0] for row in taken] == expected
        running = conn.execute("SELECT count(*) FROM toro_jobs WHERE status = 'running'")
        assert running.fetchone() == (17,)
