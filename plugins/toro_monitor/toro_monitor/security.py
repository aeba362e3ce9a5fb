"""The monitor's defences against other sites: response headers, the token, the Origin check.

* Every response (pages, partials, static files, actions, errors) gets :data:`HEADERS`: a
  Content-Security-Policy that runs only the monitor's own script and style files (no inline
  script or style, no ``eval``: htmx is configured not to need it), refuses framing, and
  ``nosniff`` and ``same-origin`` referrers; a response that does not set its own
  Cache-Control gets ``no-store`` (every page and partial shows job data).
* Every POST must carry the token of Litestar's CSRF middleware (a double-submit cookie); the
  pages send it in the :data:`CSRF_HEADER` header, or as the ``_csrf_token`` form field when
  JavaScript is off.
* A POST whose ``Origin`` (or, without one, ``Referer``) names another site than the request's
  ``Host`` is refused with 403 (:func:`origin_refusal`), token or not.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from litestar import Request, Response
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import MutableScopeHeaders
from litestar.status_codes import HTTP_403_FORBIDDEN
from litestar.types import Message, Scope

from toro_monitor.origins import host_port, normal_origin

#: Name of the cross-site token's cookie, and of the header the pages send the token in.
CSRF_COOKIE = "toro_monitor_csrf"
CSRF_HEADER = "x-toro-csrf"

#: Only the monitor's own files: scripts and styles from /static (htmx, monitor.js, the
#: stylesheets, plugin views' files), requests to itself, forms posted to itself; nothing
#: inline, no eval, no frames, no plugins, no base URL games.
CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_config(secret: str) -> CSRFConfig:
    """The token check: an HTTP-only, same-site-strict cookie signed with ``secret``."""
    return CSRFConfig(
        secret=secret,
        cookie_name=CSRF_COOKIE,
        header_name=CSRF_HEADER,
        cookie_httponly=True,
        cookie_samesite="strict",
    )


async def add_headers(message: Message, scope: Scope) -> None:
    """``before_send`` hook: :data:`HEADERS` on every response, and ``Cache-Control:
    no-store`` on those that do not set their own."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    for name, value in HEADERS.items():
        headers[name] = value
    if "cache-control" not in headers:
        headers["cache-control"] = "no-store"


def origin_refusal(
    request: Request[Any, Any, Any], allowed: Collection[str] = ()
) -> Response[str] | None:
    """A 403 for an unsafe request sent by another site, else ``None``.

    The sender is ``Origin`` or, when a browser sent none, ``Referer``; with neither (a
    script, an old client) the token check alone decides. The sender must name the host the
    request was sent to (the ``Host`` header, port included, compared in the sender's scheme
    so that a proxy ending TLS does not matter) or be one of ``allowed``
    (:func:`normal_origin` forms).
    """
    if request.method in SAFE_METHODS:
        return None
    sender = request.headers.get("origin") or request.headers.get("referer")
    if sender is None:
        return None
    origin = normal_origin(sender)
    if origin is not None and origin in allowed:
        return None
    if origin is not None:
        scheme = origin.split(":", 1)[0]
        host = host_port(request.headers.get("host", ""), scheme)
        if host is not None and host_port(origin.split("://", 1)[1], scheme) == host:
            return None
    return Response(
        "Cross-site request refused: its Origin is not this monitor's host.",
        status_code=HTTP_403_FORBIDDEN,
        media_type="text/plain",
    )
