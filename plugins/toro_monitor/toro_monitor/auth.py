"""Who may use the monitor: built-in HTTP basic auth and the ``monitor_authorize`` hook.

:func:`guard` runs before every request handler (static files included). Basic auth, when
configured, must pass first; then any ``monitor_authorize`` implementation returning
``False`` refuses; then a cross-site POST is refused (:func:`~toro_monitor.security.
origin_refusal`). A monitor with no authentication of its own logs one warning the first
time a client from another machine reaches it (mounted in a host app, the host may protect
it; served alone, ``toro-core monitor`` also prints a banner at start).
"""

from __future__ import annotations

import base64
import hmac
import inspect
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, Response
from litestar.status_codes import HTTP_401_UNAUTHORIZED

from toro_core import Toro
from toro_monitor.context import Monitor
from toro_monitor.origins import normal_origin
from toro_monitor.security import origin_refusal

log = logging.getLogger("toro.monitor")

REALM = 'Basic realm="toro monitor", charset="UTF-8"'


def basic_auth_ok(header: str | None, expected: tuple[str, str]) -> bool:
    """Whether an ``Authorization`` header carries the expected user and password."""
    if not header or not header.lower().startswith("basic "):
        return False
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except ValueError:  # bad base64 (binascii.Error), not ASCII, not UTF-8
        return False
    user, _, password = decoded.partition(":")
    return hmac.compare_digest(user.encode(), expected[0].encode()) & hmac.compare_digest(
        password.encode(), expected[1].encode()
    )


async def hook_allows(request: Request[Any, Any, Any], app: Toro) -> bool:
    """False when any ``monitor_authorize`` implementation returns (or resolves to) False."""
    for result in app.plugin_manager.hook.monitor_authorize(request=request, app=app):
        if inspect.isawaitable(result):
            result = await result
        if result is False:
            return False
    return True


def refuse(challenge: bool) -> Response[str]:
    headers = {"WWW-Authenticate": REALM} if challenge else {}
    return Response(
        "Not authorized",
        status_code=HTTP_401_UNAUTHORIZED,
        media_type="text/plain",
        headers=headers,
    )


def has_authorize_hook(app: Toro) -> bool:
    return bool(app.plugin_manager.hook.monitor_authorize.get_hookimpls())


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or name) only serves this machine."""
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def guard(monitor: Monitor) -> Callable[[Request[Any, Any, Any]], Awaitable[Response[str] | None]]:
    """The app's ``before_request`` hook: a refusal, or ``None`` to let the request through."""
    options, toro = monitor.options, monitor.toro
    allowed = frozenset(o for o in map(normal_origin, options.allowed_origins) if o)
    warned = False

    async def check(request: Request[Any, Any, Any]) -> Response[str] | None:
        nonlocal warned
        if options.basic_auth and not basic_auth_ok(
            request.headers.get("authorization"), options.basic_auth
        ):
            return refuse(challenge=True)
        if not await hook_allows(request, toro):
            return refuse(challenge=False)
        if not monitor.authenticated and not warned:
            client = request.client.host if request.client else ""
            if client and not is_loopback(client):
                warned = True
                log.warning(
                    "the toro monitor answered %r without authentication of its own (no basic"
                    " auth, no monitor_authorize hook): make sure what serves it protects it",
                    client,
                )
        return origin_refusal(request, allowed)

    return check
