"""The jobs list read through the monitor's one index (status, queue, class, id): filtered and
key-sorted pages come from each (status, queue, class) group's range, merged. Every order is
checked against PostgreSQL's own sort of the whole table, page by page, on the grouped path and
on the planner's path it falls back to past ``MAX_GROUPS`` groups."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import toro_monitor.plugin as monitor_plugin
import toro_monitor.store
from litestar.testing import TestClient
from monitor_support import add_job, row_ids, walk_pages
from toro_monitor import MonitorOptions, create_app

from toro_core.app import Toro
from toro_core.testing import rows

HX = {"HX-Request": "true"}
BIGINT = 2**63
#: Names whose byte order differs from a linguistic one ("B" before "a", "é" last).
QUEUES = ["a", "B", "é"]
CLASSES = ["app.Z", "app.b", "App.c"]
STATUSES = ["queued", "complete", "failed", "running", "scheduled", "cancelled"]
#: sort name -> column, for the expected order
COLUMNS = {"queue": "queue", "class": "class_name", "status": "status"}
FILTERS = [
    "",
    "queue=B",
    "class=app.b",
    "status=failed",
    "status=running",
    "queue=a&status=complete",
    "queue=%C3%A9&class=App.c",
    "status=queued&class=app.Z",
    "queue=nosuch",
]


@pytest.fixture
def seeded(toro_db: str) -> list[int]:
    made = []
    for i in range(60):
        made.append(
            add_job(
                toro_db,
                queue=QUEUES[i % 3],
                class_name=CLASSES[(i // 3) % 3],
                status=STATUSES[(i * 7) % len(STATUSES)],
                age=1000 - i,
            )
        )
    return made


@pytest.fixture
def client(make_app: Callable[..., Toro]) -> Iterator[TestClient]:
    toro = make_app(plugins=[monitor_plugin])
    with TestClient(create_app(toro, MonitorOptions(basic_auth=None, page_size=4))) as c:
        yield c


def expected(conninfo: str, sort: str, direction: str, filters: str) -> list[int]:
    """Every matching job in the list's order, as PostgreSQL sorts the whole table."""
    conditions, params = ["TRUE"], {}
    for pair in filter(None, filters.split("&")):
        name, value = pair.split("=")
        value = value.replace("%C3%A9", "é")
        column = {"queue": "queue", "class": "class_name", "status": "status"}[name]
        conditions.append(f"{column} = %({column})s")
        params[column] = value
    order = f"id {direction}"
    if sort in COLUMNS:
        order = f'{COLUMNS[sort]} COLLATE "C" {direction}, id {direction}'
    found = rows(
        conninfo,
        f"SELECT id FROM toro_jobs WHERE {' AND '.join(conditions)} ORDER BY {order}",
        params,
    )
    return [row[0] for row in found]


@pytest.mark.parametrize("fallback", [False, True], ids=["grouped", "planner"])
@pytest.mark.parametrize("sort", ["created", "queue", "class", "status"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_every_filter_and_indexed_sort_pages_in_order(
    client, toro_db, seeded, monkeypatch, sort, direction, fallback
):
    if fallback:  # past MAX_GROUPS groups the list is the planner's
        monkeypatch.setattr(toro_monitor.store, "MAX_GROUPS", 1)
    for filters in FILTERS:
        url = f"/jobs?sort={sort}&dir={direction}" + (f"&{filters}" if filters else "")
        seen = walk_pages(client, url, 40)
        assert seen == expected(toro_db, sort, direction, filters), url


def test_counts_and_filters_read_from_groups(client, toro_db, seeded):
    page = client.get("/jobs?status=complete&queue=B", headers=HX)
    assert page.status_code == 200
    matching = expected(toro_db, "created", "desc", "status=complete&queue=B")
    assert matching and row_ids(page.text) == matching[:4]
    assert f"<strong>{len(matching):,}</strong> job" in page.text
    full = client.get("/jobs").text  # the datalists: every queue and class at rest, byte order
    options = full.split('<datalist id="queue-names">')[1].split("</datalist>")[0]
    assert options.index('"B"') < options.index('"a"') < options.index('"é"')
    classes = full.split('<datalist id="class-names">')[1].split("</datalist>")[0]
    assert all(f'"{name}"' in classes for name in CLASSES)


def cursor(*wire: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(wire)).encode()).decode().rstrip("=")


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("row_id", [BIGINT - 1, -BIGINT, 0])
def test_cursors_at_the_ends_of_bigint(client, toro_db, seeded, direction, row_id):
    """A cursor with any id in bigint continues after (value, id), never a 500."""
    response = client.get(
        f"/jobs?sort=queue&dir={direction}&after={cursor('a', row_id)}", headers=HX
    )
    assert response.status_code == 200, response.text
    everything = expected(toro_db, "queue", direction, "")
    queues = dict(rows(toro_db, "SELECT id, queue FROM toro_jobs"))
    position = (b"a", row_id)
    if direction == "asc":
        after = [job for job in everything if (queues[job].encode(), job) > position]
    else:
        after = [job for job in everything if (queues[job].encode(), job) < position]
    assert after  # the cursor is inside the list, not past its end
    assert row_ids(response.text) == after[:4]


def test_past_max_groups_an_indexed_order_is_windowed_on_a_large_table(
    make_app, toro_db, seeded, monkeypatch
):
    """More groups than a page reads one by one: the order is kept among the newest jobs (the
    page says so), and the cost stays that of the window."""
    monkeypatch.setattr(toro_monitor.store, "MAX_GROUPS", 2)
    toro = make_app(plugins=[monitor_plugin])
    options = MonitorOptions(basic_auth=None, page_size=4, sort_window=20)
    with TestClient(create_app(toro, options)) as client:
        page = client.get("/jobs?sort=queue&dir=asc", headers=HX)
        assert page.status_code == 200
        assert "sorted among the newest 20 jobs" in page.text
        newest = set(seeded[-21:])  # the window: ids above the highest minus 20
        seen = walk_pages(client, "/jobs?sort=queue&dir=asc", 20)
        assert seen and set(seen) <= newest
        assert seen == [job for job in expected(toro_db, "queue", "asc", "") if job in set(seen)]
        # one group: read from the index, whole
        assert walk_pages(client, "/jobs?queue=a&status=complete", 20) == expected(
            toro_db, "created", "desc", "queue=a&status=complete"
        )
