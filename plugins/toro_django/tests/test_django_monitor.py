"""The toro monitor mounted in the test project's URLconf (``ops/toro/``), staff only."""

from __future__ import annotations

import anyio

from toro_core.testing import scalar


def staff_client(staff: bool = True):
    from django.contrib.auth.models import User
    from django.test import Client

    user = User.objects.create_user("ann", password="x", is_staff=staff)
    client = Client()
    client.force_login(user)
    return client


def test_staff_see_the_monitor_and_its_job_detail(django_db):
    from shop.tasks import add

    result = add.enqueue(1, 2)
    client = staff_client()
    page = client.get("/ops/toro/jobs")
    assert page.status_code == 200
    text = page.content.decode()
    assert "shop.tasks.add" in text
    assert 'href="/ops/toro/jobs/' in text  # links below the mount point
    static = client.get("/ops/toro/static/monitor.css")
    assert static.status_code == 200 and b"{" in static.content
    detail = client.get(f"/ops/toro/jobs/{result.id}")
    assert detail.status_code == 200 and "Job " + result.id in detail.content.decode()
    assert client.get("/ops/toro/jobs/999999").status_code == 404
    assert client.get("/ops/toro/jobs?sort=nope").status_code == 400


def test_the_monitors_buttons_work_with_its_own_cross_site_token(django_db):
    from shop.tasks import fail
    from toro_django.compat import task_backends

    result = fail.enqueue("x")
    scalar(  # no worker here: fail the job by hand, as a worker would have
        django_db,
        "UPDATE toro_jobs SET status = 'failed', attempt = 1 WHERE id = %s RETURNING id",
        (int(result.id),),
    )
    client = staff_client()
    page = client.get(f"/ops/toro/jobs/{result.id}")
    token = client.cookies["toro_monitor_csrf"].value
    assert page.status_code == 200 and token
    refused = client.post(f"/ops/toro/jobs/{result.id}/retry")
    assert refused.status_code == 403
    assert scalar(django_db, "SELECT status FROM toro_jobs WHERE id = %s", (int(result.id),)) == (
        "failed"
    )
    retried = client.post(f"/ops/toro/jobs/{result.id}/retry", headers={"x-toro-csrf": token})
    assert retried.status_code in (200, 303)
    assert scalar(django_db, "SELECT status FROM toro_jobs WHERE id = %s", (int(result.id),)) == (
        "queued"
    )
    assert task_backends["default"].toro.job(int(result.id)) is not None


def test_others_are_sent_to_log_in_or_refused(django_db):
    from django.test import Client

    anonymous = Client().get("/ops/toro/jobs")
    assert (
        anonymous.status_code == 302
        and "/accounts/login/?next=/ops/toro/jobs" in anonymous["Location"]
    )
    assert staff_client(staff=False).get("/ops/toro/jobs").status_code == 403


def test_served_over_asgi_too(django_db):
    from django.test import AsyncClient

    client = staff_client()
    session = client.cookies["sessionid"].value

    async def main() -> int:
        asgi = AsyncClient()
        asgi.cookies["sessionid"] = session
        response = await asgi.get("/ops/toro/queues")
        return response.status_code

    assert anyio.run(main) == 200
