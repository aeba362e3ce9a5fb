"""Helpers shared by the monitor's tests: jobs written straight into toro_jobs, apps to test."""

from __future__ import annotations

import json
import re
from html import unescape
from typing import Any

import psycopg

XSS = "<script>alert('xss')</script>"

INSERT = """
INSERT INTO toro_jobs (queue, class_name, args, name, status, created_at, started_at,
                       finished_at, started_by, properties, attempt, kwargs, priority)
VALUES (%(queue)s, %(class_name)s, %(args)s::jsonb, %(name)s, %(status)s,
        now() - make_interval(secs => %(age)s),
        CASE WHEN %(status)s NOT IN ('queued', 'scheduled', 'blocked')
             THEN now() - make_interval(secs => %(age)s) END,
        CASE WHEN %(status)s IN ('complete', 'failed')
             THEN now() - make_interval(secs => %(age)s) + make_interval(secs => %(duration)s) END,
        CASE WHEN %(status)s NOT IN ('queued', 'scheduled', 'blocked') THEN 'host-a:4242' END,
        %(properties)s::jsonb, %(attempt)s, %(kwargs)s::jsonb, %(priority)s)
RETURNING id
"""


def add_job(
    conninfo: str,
    *,
    queue: str = "default",
    class_name: str = "tests.workers.Noop",
    args: list[Any] | None = None,
    name: str | None = None,
    status: str = "complete",
    duration: float = 1.0,
    age: float = 60.0,
    properties: dict[str, Any] | None = None,
    attempt: int = 1,
    kwargs: dict[str, Any] | None = None,
    priority: int = 0,
) -> int:
    """Insert one job as a worker would have left it; returns its id."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute(
            INSERT,
            {
                "queue": queue,
                "class_name": class_name,
                "args": json.dumps(args if args is not None else [1]),
                "name": name,
                "status": status,
                "age": age,
                "duration": duration,
                "properties": json.dumps(properties or {}),
                "attempt": attempt,
                "kwargs": json.dumps(kwargs or {}),
                "priority": priority,
            },
        ).fetchone()
        assert row is not None
        return int(row[0])


def failed_properties(message: str = "boom") -> dict[str, Any]:
    return {
        "error:class": "RuntimeError",
        "error:message": message,
        "error:backtrace": (
            f'Traceback (most recent call last):\n  File "w.py", line 3\nRuntimeError: {message}'
        ),
        "retry:errors": [
            {
                "class": "TimeoutError",
                "message": "first try timed out",
                "at": "2026-11-01T10:00:00+00:00",
            }
        ],
    }


def row_ids(html: str) -> list[int]:
    """Job ids of the rows of a jobs table, in order."""
    return [int(i) for i in re.findall(r'<tr id="job-(\d+)"', html)]


def walk_pages(client: Any, url: str, pages: int) -> list[int]:
    """The job ids of the list at ``url`` and of the pages its "next" links lead to (htmx
    partials, at most ``pages`` of them), in the order shown."""
    seen: list[int] = []
    for _ in range(pages):
        text = client.get(url, headers={"HX-Request": "true"}).text
        seen += row_ids(text)
        following = text.split('class="next" href="')
        if len(following) == 1:
            break
        url = unescape(following[1].split('"')[0])
    return seen


def csrf_token(html: str) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert match, "no token in page"
    return match.group(1)


def page_token(html: str) -> str:
    """The cross-site token every page gives htmx (``hx-headers`` on its body)."""
    match = re.search(r'"x-toro-csrf": "([^"]+)"', html)
    assert match, "no token in page"
    return match.group(1)
