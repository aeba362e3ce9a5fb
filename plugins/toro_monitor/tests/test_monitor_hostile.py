"""The monitor under hostile input: bad parameters are 400s, any row renders, pages stay small.

Real PostgreSQL; rows are written by SQL, as anyone with access to the table could.
"""

from __future__ import annotations

import base64
import html
import json
import random
import re
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
import toro_example_plugin.plugin as example_plugin
import toro_monitor.plugin as monitor_plugin
import toro_scheduler.plugin as scheduler_plugin
from litestar.testing import TestClient
from monitor_support import add_job, csrf_token, failed_properties, row_ids
from toro_monitor import MonitorOptions, create_app, jsonsafe

from toro_core.app import Toro
from toro_core.testing import scalar

HX = {"HX-Request": "true"}
BIGINT = 2**63


def cursor(*wire: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(wire)).encode()).decode().rstrip("=")


def raw_cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.fixture
def client(make_app: Callable[..., Toro]) -> Iterator[TestClient]:
    toro = make_app(plugins=[monitor_plugin, example_plugin, scheduler_plugin])
    with TestClient(create_app(toro, MonitorOptions(basic_auth=None, page_size=5))) as c:
        yield c


def sql(conninfo: str, statement: str, params: Any = None) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(statement, params)


def deep_json(depth: int, leaf: str = "1") -> str:
    return '{"a": ' * depth + leaf + "}" * depth


# ------------------------------------------------------------------ parameters


BAD_QUERIES = [
    # keyset cursors
    "after=" + cursor(None, True),  # a boolean id
    "after=" + cursor(None, 1.5),
    "after=" + cursor(None, "7"),
    "after=" + cursor(None, BIGINT),  # id out of bigint
    "after=" + cursor(None, -BIGINT - 1),
    "after=" + cursor("x", 1),  # a value for the id order
    "sort=queue&after=" + cursor(None, 1),  # a null key where the key is never null
    "sort=queue&after=" + cursor(5, 1),
    "sort=queue&after=" + cursor("a\u0000b", 1),
    "sort=queue&after=" + cursor("x" * 201, 1),
    "sort=started&after=" + cursor("yesterday", 1),  # not a date
    "sort=started&after=" + cursor("99999-01-01T00:00:00+00:00", 1),  # out of range
    "sort=started&after=" + cursor("0000-01-01T00:00:00+00:00", 1),
    "sort=started&after=" + cursor("infinity", 1),
    "sort=started&after=" + cursor("1e400", 1),
    "sort=started&after=" + cursor("2026-01-01T00:00:00", 1),  # no zone
    "sort=duration&after=" + cursor("soon", 1),
    "sort=duration&after=" + cursor("1e308 seconds", 1),
    "sort=duration&after=" + cursor("inf seconds", 1),
    "sort=duration&after=" + cursor("99999999999999 seconds", 1),
    "sort=name&after=" + cursor({"a": 1}, 1),
    "sort=created&after=" + cursor(1),  # by reference where no value is needed
    "after=" + cursor(),
    "after=" + cursor(1, 2, 3),
    "after=" + raw_cursor('{"a": 1}'),
    "after=" + raw_cursor("[" * 5000 + "]" * 5000),  # deeper than json.loads goes
    "after=" + raw_cursor("[null, 1e99999]"),
    "after=" + raw_cursor("[null, " + "9" * 5000 + "]"),
    "after=!!!",
    "after=%00",
    "after=" + "A" * 3000,  # absurd length
    "after=%ff%fe",
    # NUL bytes anywhere in text parameters
    "queue=%00",
    "queue=mail%00ers",
    "class=a%00b",
    "q=%00",
    "status=%00",
    "sort=%00",
    "dir=%00",
    # absurd lengths
    "q=" + "x" * 201,
    "queue=" + "x" * 30_000,
    "x" * 30_000 + "=1",
    # repeated parameters
    "queue=a&queue=b",
    "sort=name&sort=name",
    "after=" + cursor(None, 1) + "&after=" + cursor(None, 1),
    "q=a&q=a",
    # unknown ones
    "sort=id;drop table toro_jobs",
    "colour=red",
    "%00=1",
]


def test_every_bad_parameter_is_a_400_with_a_short_reason(client, toro_db):
    add_job(toro_db)
    wrong = []
    for query in BAD_QUERIES:  # one app for all of them: a fresh one each is slow
        for headers in ({}, HX):
            response = client.get(f"/jobs?{query}", headers=headers)
            detail = response.json().get("detail", "") if response.status_code == 400 else ""
            if response.status_code != 400 or not 0 < len(detail) < 200:
                wrong.append((query[:80], response.status_code, response.text[:200]))
    assert wrong == []
    assert scalar(toro_db, "SELECT count(*) FROM toro_jobs") == 1


def test_job_ids_out_of_bigint_are_400(client):
    for url in (f"/jobs/{BIGINT}", f"/jobs/-{BIGINT + 1}", f"/jobs/{10**30}"):
        assert client.get(url).status_code == 400, url
        assert client.get(url, headers=HX).status_code == 400, url
    assert client.get(f"/jobs/{BIGINT - 1}").status_code == 404


def test_actions_check_their_parameters(client, toro_db):
    job = add_job(toro_db, status="failed", properties=failed_properties())
    token = csrf_token(client.get("/jobs").text)
    headers = {**HX, "x-toro-csrf": token}
    assert client.post(f"/jobs/{BIGINT}/retry", headers=headers).status_code == 400
    for view in ("bogus", "row&view=row", "%00"):
        response = client.post(f"/jobs/{job}/retry?view={view}", headers=headers)
        assert response.status_code == 400, view
    assert scalar(toro_db, "SELECT status FROM toro_jobs WHERE id = %s", (job,)) == "failed"
    assert client.post(f"/jobs/{job}/retry?view=row", headers=headers).status_code == 200


FRAGMENTS = [
    "",
    "%00",
    "%ff",
    "%ed%a0%80",  # an encoded lone surrogate
    "%",
    "%%",
    "+",
    "&",
    "=",
    ";",
    "\u00e9",
    "%F0%9F%92%A9",
    "x" * 300,
    "-1",
    "9" * 30,
    "true",
    "null",
    "[]",
    "created",
    "name",
    "started",
    "duration",
    "queue",
    "asc",
    "desc",
    "failed",
    "%0a%0d",
    "<script>",
    "'",
    '"',
    "\\",
]
KEYS = ["sort", "dir", "queue", "class", "status", "q", "after", "view", "x", ""]


def fuzzed(rng: random.Random) -> str:
    pairs = []
    for _ in range(rng.randint(1, 4)):
        key = rng.choice(KEYS)
        value = "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(0, 3)))
        if key == "after" and rng.random() < 0.5:
            value = rng.choice(
                [
                    cursor(rng.choice([None, "a", 1, True, [], "2026-01-01T00:00:00+00:00"]), 1),
                    cursor(rng.choice(["1 seconds", "x", None]), rng.choice([1, -1, 2**64])),
                    raw_cursor(value),
                ]
            )
        pairs.append(f"{key}={value}" if rng.random() < 0.9 else key)
    return "&".join(pairs)


def test_fuzzed_query_strings_never_answer_500(client, toro_db):
    add_job(toro_db, name="a")
    add_job(toro_db, status="failed", properties=failed_properties())
    rng = random.Random(15)
    answers: dict[int, int] = {}
    for _ in range(300):
        query = fuzzed(rng)
        for path in ("/jobs", "/queues", "/processes", "/scheduled"):
            response = client.get(f"{path}?{query}", headers=HX if rng.random() < 0.5 else {})
            assert response.status_code in (200, 400), (path, query, response.text[:300])
            answers[response.status_code] = answers.get(response.status_code, 0) + 1
    assert answers.get(400) and answers.get(200)  # the fuzz reached both answers
    for junk in ("abc", "1e5", "0x10", "%00", "1%00", " 1", "+1", "\u0661", "1.0", "-0"):
        response = client.get(f"/jobs/{junk}")
        # Python's int() reads " 1", "+1" and "\u0661" as 1: that job exists, so 200
        assert response.status_code in (200, 400, 404), (junk, response.status_code)


# ------------------------------------------------------------------ rows SQL wrote


def test_job_properties_nested_1000_deep_render(client, toro_db):
    job = add_job(toro_db, status="failed", properties=failed_properties())
    sql(
        toro_db,
        "UPDATE toro_jobs SET properties = properties || jsonb_build_object('deep', %s::jsonb),"
        " args = %s::jsonb WHERE id = %s",
        (deep_json(1000), "[" + deep_json(5000) + "]", job),
    )
    for headers in ({}, HX):
        detail = client.get(f"/jobs/{job}", headers=headers)
        assert detail.status_code == 200, detail.text[:500]
        assert "nested deeper" in detail.text  # the tree folds what is below its depth
        assert detail.text.count('<ul class="tree">') < 50
        assert "&#34;a&#34;: {" in detail.text  # the arguments, printed without recursion
    assert client.get("/jobs", headers=HX).status_code == 200
    token = csrf_token(client.get(f"/jobs/{job}").text)
    retried = client.post(f"/jobs/{job}/retry?view=detail", headers={**HX, "x-toro-csrf": token})
    assert retried.status_code == 200 and "Queued again." in retried.text


def test_numbers_python_will_not_parse_render(client, toro_db):
    job = add_job(toro_db)
    sql(
        toro_db,
        "UPDATE toro_jobs SET args = '[1e5000, -1e5000, 1e-5000]'::jsonb,"
        " properties = '{\"big\": 1e5000}'::jsonb WHERE id = %s",
        (job,),
    )
    for url in (f"/jobs/{job}", "/jobs"):
        response = client.get(url)
        assert response.status_code == 200, url
    assert "1" + "0" * 300 in client.get(f"/jobs/{job}").text


def test_sixty_jobs_with_one_megabyte_names_keep_the_list_small(client, toro_db):
    megabyte = "".join(random.Random(1).choice("abcdefghij") for _ in range(1_000_000))
    sql(
        toro_db,
        "INSERT INTO toro_jobs (queue, class_name, args, name, status, properties)"
        " SELECT 'q', 'app.Big', jsonb_build_array(%(big)s::text), %(big)s || i, 'failed',"
        "        jsonb_build_object('error:message', %(big)s::text, 'error:class', 'E',"
        "                           'error:backtrace', %(big)s::text)"
        "   FROM generate_series(1, 60) AS i",
        {"big": megabyte},
    )
    options = MonitorOptions(basic_auth=None, page_size=60)
    toro = client.app.state.monitor.toro
    with TestClient(create_app(toro, options)) as big:
        for headers in ({}, HX):
            page = big.get("/jobs", headers=headers)
            assert page.status_code == 200
            assert len(row_ids(page.text)) == 60
            assert len(page.content) < 200_000, len(page.content)  # not 60 MB
            assert megabyte[:200] + "…" in page.text
        job = row_ids(page.text)[0]
        detail = big.get(f"/jobs/{job}")
        assert detail.status_code == 200
        assert len(detail.content) < 250_000, len(detail.content)
        assert detail.text.count('<details class="long">') >= 3  # name, message, backtrace
        assert "more characters)" in detail.text  # and the fold says it was cut
        assert len(big.get("/scheduled").content) < 100_000


def test_long_names_page_through_by_reference(client, toro_db):
    names = [f"{i:03d}" + "n" * 300 for i in range(12)]
    made = [
        add_job(toro_db, name=name, queue="q" * 250 + str(i % 2)) for i, name in enumerate(names)
    ]
    for sort in ("name", "queue"):
        for direction in ("asc", "desc"):
            seen: list[int] = []
            url = f"/jobs?sort={sort}&dir={direction}"
            for _ in range(10):
                response = client.get(url, headers=HX)
                assert response.status_code == 200, response.text[:300]
                seen += row_ids(response.text)
                nxt = response.text.split('class="next" href="')
                if len(nxt) == 1:
                    break
                url = html.unescape(nxt[1].split('"')[0])
            assert sorted(seen) == sorted(made), (sort, direction)
            if sort == "name":
                order = [made[names.index(n)] for n in sorted(names, reverse=direction == "desc")]
                assert seen == order


def test_times_and_intervals_python_cannot_hold(client, toro_db):
    made = [add_job(toro_db, status="complete", duration=i + 1) for i in range(7)]
    sql(
        toro_db,
        "UPDATE toro_jobs SET started_at = 'infinity', finished_at = 'infinity' WHERE id = %s",
        (made[0],),
    )
    sql(
        toro_db,
        "UPDATE toro_jobs SET started_at = '-infinity', created_at = '20000-01-01',"
        " finished_at = '200000-01-01' WHERE id = %s",
        (made[1],),
    )
    sql(
        toro_db,
        "UPDATE toro_jobs SET started_at = '4000-01-01 BC', finished_at = '290000-01-01'"
        " WHERE id = %s",
        (made[2],),
    )
    for headers in ({}, HX):
        for url in ("/jobs", f"/jobs/{made[0]}", f"/jobs/{made[1]}", f"/jobs/{made[2]}"):
            response = client.get(url, headers=headers)
            assert response.status_code == 200, (url, response.text[:300])
    assert "infinity" in client.get(f"/jobs/{made[0]}").text
    for sort in ("started", "duration", "created"):
        for direction in ("asc", "desc"):
            seen: list[int] = []
            url = f"/jobs?sort={sort}&dir={direction}"
            for _ in range(10):
                response = client.get(url, headers=HX)
                assert response.status_code == 200, (url, response.text[:300])
                seen += row_ids(response.text)
                nxt = response.text.split('class="next" href="')
                if len(nxt) == 1:
                    break
                url = html.unescape(nxt[1].split('"')[0])
            assert sorted(seen) == sorted(made), (sort, direction)
    sql(
        toro_db,
        "INSERT INTO toro_processes (id, host, pid, queues, concurrency) VALUES"
        " ('00000000-0000-0000-0000-000000000001', %s, 1, '{default}', 1)",
        ("h" * 10_000,),
    )
    sql(
        toro_db,
        "UPDATE toro_jobs SET status = 'running',"
        " locked_by = '00000000-0000-0000-0000-000000000001' WHERE id = %s",
        (made[0],),
    )
    processes = client.get("/processes")
    assert processes.status_code == 200 and f"#{made[0]}" in processes.text
    assert len(processes.content) < 50_000


def test_queue_and_status_names_are_cut_on_every_page(client, toro_db):
    add_job(toro_db, queue="Q" * 2000, class_name="C" * 2000, status="weird_" + "s" * 2000)
    for url in ("/jobs", "/queues", "/chart"):
        text = client.get(url).text
        # SQL selects 201 characters (one past what is shown, to know a cut): never more
        assert "Q" * 202 not in text and "C" * 202 not in text and "s" * 202 not in text, url
        assert "Q" * 200 + "…" in text or url != "/jobs"


def test_the_scheduled_page_survives_bad_rows(client, toro_db):
    good = add_job(toro_db, status="scheduled", name="fine")
    deep = add_job(toro_db, status="scheduled", name="deep")
    never = add_job(toro_db, status="scheduled", name="never")
    sql(
        toro_db,
        "UPDATE toro_jobs SET scheduled_at = now() + interval '1 hour' WHERE id = %s",
        (good,),
    )
    sql(
        toro_db,
        "UPDATE toro_jobs SET scheduled_at = now() + interval '2 hours', args = %s::jsonb"
        " WHERE id = %s",
        ("[" + deep_json(3000) + "]", deep),
    )
    sql(toro_db, "UPDATE toro_jobs SET scheduled_at = 'infinity' WHERE id = %s", (never,))
    rows = [
        ("ok.Every", "interval", "60", "UTC", 300.0, "[]"),
        ("bad.Inf", "interval", "inf", "UTC", 300.0, "[]"),
        ("bad.Huge", "interval", "1e300", "UTC", 300.0, "[]"),
        ("bad.Nan", "interval", "nan", "UTC", 300.0, "[]"),
        ("bad.Negative", "interval", "-5", "UTC", 300.0, "[]"),
        ("bad.CatchUp", "cron", "0 7 * * *", "UTC", float("inf"), "[]"),
        ("bad.Zone", "cron", "0 7 * * *", "Mars/Olympus", 300.0, "[]"),
        ("bad.Deep", "cron", "0 7 * * *", "UTC", 300.0, "[" + deep_json(3000) + "]"),
        ("bad.Long", "cron", "0 7 * * * " + " " * 500, "UTC", 300.0, "[]"),
    ]
    with psycopg.connect(toro_db, autocommit=True) as conn:
        for row in rows:
            conn.execute(
                "INSERT INTO toro_schedules (name, kind, expression, timezone, catch_up, args,"
                " queue) VALUES (%s, %s, %s, %s, %s, %s::jsonb, 'default')",
                row,
            )
        conn.execute(
            "INSERT INTO toro_schedules (name, kind, expression, catch_up, queue, seen_at)"
            " VALUES ('bad.Seen', 'cron', '0 7 * * *', 300, 'default', 'infinity')"
        )
        conn.execute(
            "INSERT INTO toro_schedule_ticks (schedule, tick_at) VALUES ('bad.Zone', 'infinity')"
        )
    for headers in ({}, HX):
        response = client.get("/scheduled", headers=headers)
        assert response.status_code == 200, response.text[:500]
        text = response.text
        for row_id in (good, deep, never):
            assert f'id="scheduled-{row_id}"' in text
        every = re.search(r'<tr data-schedule="ok.Every">(.*?)</tr>', text, re.S)
        assert every and "every 1min" in every.group(1) and "cannot" not in every.group(1)
        for name, *_ in rows[1:]:
            shown = re.search(rf'<tr data-schedule="{re.escape(name)}"[^>]*>(.*?)</tr>', text, re.S)
            assert shown, name
        for name in ("bad.Inf", "bad.Nan", "bad.Zone", "bad.Long"):
            shown = re.search(rf'<tr data-schedule="{name}"[^>]*>(.*?)</tr>', text, re.S)
            assert shown and "cannot" in shown.group(1), name
        assert 'data-schedule="bad.Seen"' in text


def test_the_example_view_survives_a_non_numeric_time(client, toro_db):
    add_job(toro_db, properties={"example:elapsed_ms": 12.5})
    values = ['"abc"', "null", "true", '{"ms": 3}', "[1, 2]", "1e400", '"1e999"', deep_json(2000)]
    for value in values:
        job = add_job(toro_db)
        sql(
            toro_db,
            "UPDATE toro_jobs SET properties = jsonb_build_object('example:elapsed_ms', %s::jsonb)"
            " WHERE id = %s",
            (value, job),
        )
        detail = client.get(f"/jobs/{job}")
        assert detail.status_code == 200, value[:40]
        assert "Timing (example plugin)" in detail.text
        assert "This view failed" not in detail.text, value[:40]
        page = client.get("/example/timings")
        assert page.status_code == 200 and "12.500" in page.text, value[:40]


def test_a_failing_plugin_page_is_an_error_line_not_a_500(make_app, toro_db):
    from pathlib import Path

    from toro_core import hookimpl

    class Broken:
        @hookimpl
        def monitor_views(self):
            from toro_monitor.view import MonitorView

            def explode(job):
                raise RuntimeError("nope")

            return [
                MonitorView(
                    title="Broken",
                    template="broken.html",
                    templates=Path(__file__).parent,
                    kind="page",
                    path="/broken",
                    context=explode,
                )
            ]

    toro = make_app(plugins=[monitor_plugin, Broken()])
    with TestClient(create_app(toro, MonitorOptions(basic_auth=None))) as broken:
        response = broken.get("/broken")
        assert response.status_code == 200 and "This view failed" in response.text


# ------------------------------------------------------------------ the JSON helpers


def test_json_of_any_depth_round_trips_without_recursion():
    for depth in (10, 3000, 20_000):
        text = "[" * depth + "]" * depth
        value = jsonsafe.loads(text)
        assert "".join(jsonsafe.chunks(value)) == text
    ordinary = {"a": [1, 2.5, None, True, 'é\n"q\\'], "b": {}, "c": [], "d": {"e": -0.0}}
    text = json.dumps(ordinary, ensure_ascii=False)
    assert jsonsafe.loads(text) == ordinary
    assert jsonsafe._deep_loads(text) == ordinary
    assert "".join(jsonsafe.chunks(ordinary, 2)) == json.dumps(
        ordinary, indent=2, ensure_ascii=False
    )
    assert jsonsafe.pretty(jsonsafe.loads(deep_json(5000)), 100)[1] is True
    for bad in ("[1", "[1]]", "x", "[1] 2", "}", '{"a": 1]'):
        with pytest.raises(ValueError):
            jsonsafe._deep_loads(bad)
