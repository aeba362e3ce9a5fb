"""The monitor's job-control actions against other sites and hostile input: every POST needs
the cross-site token and a same-site Origin, every answer carries the security headers, bad
ids, actions, filters and form fields are 4xx (never 500), and everything shown is escaped."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import toro_monitor.plugin as monitor_plugin
from litestar.testing import TestClient
from monitor_support import XSS, add_job, failed_properties, page_token
from test_monitor_security import assert_protected
from toro_monitor import MonitorOptions, create_app

from toro_core.testing import scalar

HX = {"HX-Request": "true"}
BIGINT = 2**63
EVIL = {"origin": "https://evil.example"}


@pytest.fixture
def client(make_app) -> Iterator[TestClient]:
    toro = make_app(plugins=[monitor_plugin])
    with TestClient(create_app(toro, MonitorOptions(basic_auth=None))) as c:
        c.token = page_token(c.get("/jobs").text)  # type: ignore[attr-defined]
        yield c


def token(client: TestClient) -> dict[str, str]:
    return {**HX, "x-toro-csrf": client.token}  # type: ignore[attr-defined]


def state(db: str) -> list[tuple[str, ...]]:
    """Every job's status and every paused queue: what an action would change."""
    jobs = scalar(db, "SELECT array_agg(status ORDER BY id) FROM toro_jobs")
    queues = scalar(db, "SELECT array_agg(name ORDER BY name) FROM toro_queues")
    return [tuple(jobs or ()), tuple(queues or ())]


def actions(db: str) -> list[tuple[str, dict[str, str]]]:
    """One request of each new action, as the pages send them: ``(url, form)``."""
    failed = add_job(db, queue="mailers", status="failed", properties=failed_properties())
    queued = add_job(db, queue="mailers", status="queued")
    return [
        (f"/jobs/{queued}/cancel?view=row", {}),
        ("/jobs/bulk/retry", {"queue": "mailers", "upto": str(failed)}),
        ("/jobs/bulk/cancel", {"queue": "mailers", "upto": str(queued)}),
        ("/queues/pause", {"queue": "mailers"}),
    ]


def test_actions_need_the_token_and_a_same_site_origin(client, toro_db):
    requests = actions(toro_db)
    before = state(toro_db)
    for url, form in requests:
        for headers in (HX, {**HX, "x-toro-csrf": "forged"}, {**token(client), **EVIL}):
            refused = client.post(url, data=form, headers=headers)
            assert refused.status_code == 403, (url, headers)
            assert_protected(refused)
        referred = client.post(
            url, data=form, headers={**token(client), "referer": "https://evil.example/x"}
        )
        assert referred.status_code == 403, url
    assert state(toro_db) == before  # nothing changed
    for url, form in requests:  # the same, from the monitor's own page, do act
        done = client.post(
            url, data=form, headers={**token(client), "origin": "http://testserver.local"}
        )
        assert done.status_code == 200, (url, done.text[:300])
        assert_protected(done)
    assert state(toro_db) != before
    resumed = client.post("/queues/resume", data={"queue": "mailers"}, headers=token(client))
    assert resumed.status_code == 200
    assert_protected(resumed)


def test_every_new_answer_carries_the_headers(client, toro_db):
    job = add_job(toro_db, status="failed", properties=failed_properties())
    for url in ("/jobs/bulk/retry", "/jobs/bulk/cancel?queue=x", "/queues"):
        for headers in ({}, HX):
            response = client.get(url, headers=headers)
            assert response.status_code == 200, url
            assert_protected(response)
    for url in ("/jobs/bulk/nope", "/jobs/bulk/retry?status=exploded", f"/jobs/{job}/cancel"):
        assert_protected(client.get(url))
    assert_protected(client.post("/jobs/bulk/retry", data={}, headers=token(client)))
    assert_protected(client.post("/queues/pause", data={}, headers=token(client)))


def test_bad_ids_and_unknown_actions_are_4xx(client, toro_db):
    job = add_job(toro_db, status="queued")
    headers = token(client)
    for url in (f"/jobs/{BIGINT}/cancel", f"/jobs/-{BIGINT + 1}/cancel", f"/jobs/{10**30}/cancel"):
        assert client.post(url, headers=headers).status_code == 400, url
    assert client.post(f"/jobs/{BIGINT - 1}/cancel", headers=headers).status_code == 404
    for url in ("/jobs/abc/cancel", f"/jobs/{job}/explode", "/jobs/bulk/explode", "/jobs/bulk/"):
        response = client.post(url, data={"upto": "1"}, headers=headers)
        assert 400 <= response.status_code < 500, (url, response.status_code)
    assert client.get("/jobs/bulk/explode").status_code == 404
    assert client.get("/jobs/bulk/" + "x" * 5000).status_code == 404
    for view in ("bogus", "row&view=row", "%00", "row&colour=red"):
        response = client.post(f"/jobs/{job}/cancel?view={view}", headers=headers)
        assert response.status_code == 400, view
    assert scalar(toro_db, "SELECT status FROM toro_jobs WHERE id = %s", (job,)) == "queued"


BAD_CONFIRMATIONS = [
    "status=exploded",
    "queue=a&queue=b",
    "queue=%00",
    "q=" + "x" * 201,
    "colour=red",
    "after=!!!",
    "upto=5",  # the confirmation counts; it takes no upto
]
BAD_FORMS: list[dict[str, str | list[str]]] = [
    {},  # no upto
    {"upto": ""},
    {"upto": "abc"},
    {"upto": "1e5"},
    {"upto": "1.0"},
    {"upto": "\u0661"},  # a digit Python's int() reads, not ASCII
    {"upto": str(BIGINT)},
    {"upto": "9" * 400},
    {"upto": ["1", "2"]},
    {"upto": "1", "status": "exploded"},
    {"upto": "1", "queue": ["a", "b"]},
    {"upto": "1", "queue": "a\x00b"},
    {"upto": "1", "q": "x" * 201},
    {"upto": "1", "sort": "name"},
    {"upto": "1", "colour": "red"},
    {"upto": "1", "after": "x"},
]


def test_bad_filters_and_forms_of_bulk_actions_are_400(client, toro_db):
    add_job(toro_db, status="failed", properties=failed_properties())
    before = state(toro_db)
    wrong = []
    for action in ("retry", "cancel"):
        for query in BAD_CONFIRMATIONS:
            response = client.get(f"/jobs/bulk/{action}?{query}", headers=HX)
            if response.status_code != 400:
                wrong.append((action, query[:40], response.status_code))
        for form in BAD_FORMS:
            response = client.post(f"/jobs/bulk/{action}", data=form, headers=token(client))
            if response.status_code != 400:
                wrong.append((action, str(form)[:60], response.status_code))
        extra = client.post(
            f"/jobs/bulk/{action}?view=row", data={"upto": "1"}, headers=token(client)
        )
        if extra.status_code != 400:
            wrong.append((action, "?view=row", extra.status_code))
        as_json = client.post(f"/jobs/bulk/{action}", json={"upto": 1}, headers=token(client))
        if as_json.status_code != 400:
            wrong.append((action, "json", as_json.status_code))
        upload = client.post(
            f"/jobs/bulk/{action}", files={"upto": ("u.txt", b"1")}, headers=token(client)
        )
        if upload.status_code != 400:
            wrong.append((action, "file", upload.status_code))
    assert wrong == []
    assert state(toro_db) == before


def test_bad_queue_forms_are_400(client, toro_db):
    bad: list[dict[str, str | list[str]]] = [
        {},
        {"queue": ""},
        {"queue": "   "},
        {"queue": "x" * 201},
        {"queue": "a\x00b"},
        {"queue": ["a", "b"]},
        {"queue": "a", "colour": "red"},
    ]
    for url in ("/queues/pause", "/queues/resume"):
        for form in bad:
            response = client.post(url, data=form, headers=token(client))
            assert response.status_code == 400, (url, form)
            assert 0 < len(response.json()["detail"]) < 200
        assert (
            client.post(f"{url}?x=1", data={"queue": "a"}, headers=token(client)).status_code == 400
        )
        upload = client.post(url, files={"queue": ("q.txt", b"a")}, headers=token(client))
        assert upload.status_code == 400
    assert scalar(toro_db, "SELECT count(*) FROM toro_queues") == 0


def test_what_the_actions_show_is_escaped(client, toro_db):
    add_job(toro_db, queue=XSS, name=XSS, status="queued", kwargs={XSS: XSS}, priority=3)
    add_job(toro_db, queue=XSS, name=XSS, status="failed", properties=failed_properties(XSS))
    pages = [
        client.get("/queues").text,
        client.get("/jobs", headers=HX).text,
        client.get("/jobs/1").text,
        client.get("/jobs/bulk/cancel", params={"queue": XSS, "q": XSS}).text,
        client.get("/jobs/bulk/retry", params={"queue": XSS}, headers=HX).text,
    ]
    paused = client.post("/queues/pause", data={"queue": XSS}, headers=token(client))
    assert paused.status_code == 200
    pages.append(paused.text)
    for text in pages:
        assert XSS not in text
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in pages[0]
    bulk = pages[3]
    assert re.search(r'name="queue" value="&lt;script&gt;', bulk)  # carried escaped
    assert 'data-count="1"' in bulk
    assert scalar(toro_db, "SELECT name FROM toro_queues") == XSS  # stored as given
