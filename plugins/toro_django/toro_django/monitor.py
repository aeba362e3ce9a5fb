"""The toro monitor in a Django URLconf::

    # urls.py
    from django.urls import include, path
    from toro_django.monitor import monitor_urls

    urlpatterns = [
        path("toro/", include(monitor_urls())),    # staff users only, by default
        ...
    ]

The monitor is toro-monitor's ASGI app (``toro_monitor.asgi_app``) on the backend's database
and plugins. A Django view hands each request to it, and it runs on an event loop of its own
in a background thread, so it works the same under ASGI (uvicorn, daphne) and WSGI
(gunicorn) servers: its database pool lives on that loop for the life of the process.

Who may see it: ``allow(request)`` decides (by default active staff users: Django's login
page for anonymous users, 403 for the others). The monitor keeps its own cross-site token
check for its buttons, signed with a secret derived from ``SECRET_KEY`` so that every process
of a site agrees; the view is exempt from Django's CSRF middleware for that reason.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, re_path
from django.views.decorators.csrf import csrf_exempt

if TYPE_CHECKING:
    from toro_monitor.options import MonitorOptions

#: Seconds a monitor request may take before the view answers 504.
REQUEST_TIMEOUT = 30.0
#: Response headers Django computes itself.
_HOP_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})


def staff_only(request: HttpRequest) -> bool:
    """The default ``allow``: an active staff user."""
    user = getattr(request, "user", None)
    if user is None:
        raise ImproperlyConfigured(
            "the toro monitor's default check needs django.contrib.auth's "
            "AuthenticationMiddleware (request.user); add it, or pass monitor_urls(allow=...)"
        )
    return bool(user.is_active and user.is_staff)


def monitor_urls(
    *,
    backend: str = "default",
    options: MonitorOptions | None = None,
    allow: Callable[[HttpRequest], bool] = staff_only,
) -> list[URLPattern]:
    """URL patterns serving the monitor, for ``include()`` under a prefix of your choice.

    ``backend`` is the TASKS alias whose database and plugins the monitor shows; ``options``
    are toro-monitor's :class:`~toro_monitor.options.MonitorOptions` (default: its defaults,
    with the token secret derived from ``SECRET_KEY``; options you pass keep their own
    ``csrf_secret``, so set one there when the site runs several processes);
    ``allow(request)`` says who may see it.
    """
    proxy = MonitorProxy(backend, options, allow)
    return [re_path(r"^(?P<rest>.*)$", proxy.view, name="toro-monitor")]


class MonitorProxy:
    """Forwards Django requests to the monitor's ASGI app (see the module docstring)."""

    def __init__(
        self,
        backend: str,
        options: MonitorOptions | None,
        allow: Callable[[HttpRequest], bool],
    ) -> None:
        self.backend = backend
        self.options = options
        self.allow = allow
        self._app: Any = None
        self._for: object = None  # the backend the app was built for
        self._lock = threading.Lock()
        self.view = csrf_exempt(self._view)

    def asgi(self) -> Any:
        """The monitor's ASGI app, built on first use (and again when the backend is
        replaced, as a change of ``settings.TASKS`` does)."""
        from toro_django.backend import TaskBackend
        from toro_django.compat import task_backends

        backend = task_backends[self.backend]
        if not isinstance(backend, TaskBackend):
            raise ImproperlyConfigured(
                f"monitor_urls(backend={self.backend!r}): that TASKS alias is not a "
                "toro_django.TaskBackend"
            )
        with self._lock:
            if self._for is not backend:
                from toro_monitor import asgi_app
                from toro_monitor.options import MonitorOptions

                old, self._for = self._app, backend
                options = self.options or MonitorOptions(csrf_secret=_csrf_secret())
                self._app = asgi_app(backend.toro, options)
                if old is not None:
                    LOOP.run(old.state.monitor.store.close(), REQUEST_TIMEOUT)
            return self._app

    def _view(self, request: HttpRequest, rest: str) -> HttpResponse:
        if not self.allow(request):
            user = getattr(request, "user", None)
            if user is not None and not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            return HttpResponse("Not allowed", status=403, content_type="text/plain")
        app = self.asgi()
        full = request.path
        root = full[: len(full) - len(rest)] if rest else full
        scope = _scope(request, root.rstrip("/"), full)
        try:
            status, headers, body = LOOP.run(_call(app, scope, request.body), REQUEST_TIMEOUT)
        except FutureTimeout:
            return HttpResponse("The monitor took too long", status=504, content_type="text/plain")
        response = HttpResponse(body, status=status)
        for name, value in headers:
            if name in _HOP_HEADERS:
                continue
            if name == "set-cookie":
                response.cookies.load(value)
            else:
                response[name] = value
        return response


def _scope(request: HttpRequest, root: str, path: str) -> dict[str, Any]:
    meta = request.META
    headers = [
        (name.lower().encode("latin-1"), str(value).encode("latin-1"))
        for name, value in request.headers.items()
    ]
    query = meta.get("QUERY_STRING", "")
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": request.method or "GET",
        "scheme": request.scheme or "http",
        "path": path,
        "raw_path": path.encode("utf-8"),
        "query_string": query.encode("latin-1") if isinstance(query, str) else query,
        "root_path": root,
        "headers": headers,
        "client": (meta.get("REMOTE_ADDR") or "127.0.0.1", int(meta.get("REMOTE_PORT") or 0)),
        "server": (meta.get("SERVER_NAME") or "localhost", int(meta.get("SERVER_PORT") or 80)),
        "extensions": {},
        "state": {},
    }


async def _call(
    app: Any, scope: dict[str, Any], body: bytes
) -> tuple[int, list[tuple[str, str]], bytes]:
    """Run one HTTP request through an ASGI app; its status, headers and whole body."""
    sent = False
    status = 500
    headers: list[tuple[str, str]] = []
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects mid-request here
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
            headers.extend(
                (bytes(k).decode("latin-1").lower(), bytes(v).decode("latin-1"))
                for k, v in message.get("headers", [])
            )
        elif message["type"] == "http.response.body":
            chunks.append(bytes(message.get("body", b"")))

    await app(scope, receive, send)
    return status, headers, b"".join(chunks)


def _csrf_secret() -> str:
    """The monitor's token secret, the same in every process of the site."""
    return hashlib.sha256(f"toro_django.monitor:{settings.SECRET_KEY}".encode()).hexdigest()


class _Loop:
    """An event loop in a daemon thread, started on first use."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def run(self, coroutine: Coroutine[Any, Any, Any], timeout: float) -> Any:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(
                    target=loop.run_forever, name="toro-django-monitor", daemon=True
                ).start()
                self._loop = loop
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout)
        except FutureTimeout:
            future.cancel()
            raise


LOOP = _Loop()
