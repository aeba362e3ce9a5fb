"""Who may use the monitor: built-in HTTP basic auth and the ``monitor_authorize`` hook.

Both run before every request handler (static files included). Basic auth, when configured,
must pass first; then any ``monitor_authorize`` implementation returning ``False`` refuses.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import inspect
import ipaddress
from typing import Any

from litestar import Request, Response
from litestar.status_codes import HTTP_401_UNAUTHORIZED

from toro_core import Toro

REALM = 'Basic realm="toro monitor", charset="UTF-8"'


def basic_auth_ok(header: str | None, expected: tuple[str, str]) -> bool:
    """Whether an ``Authorization`` header carries the expected user and password."""
    if not header or not header.lower().startswith("basic "):
        return False
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
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
