"""The monitor's defences against other sites: the cross-site request token.

Every POST must carry the token of Litestar's CSRF middleware (a double-submit cookie); the
pages send it in the :data:`CSRF_HEADER` header, or as the ``_csrf_token`` form field when
JavaScript is off.
"""

from __future__ import annotations

from litestar.config.csrf import CSRFConfig

#: Name of the cross-site token's cookie, and of the header the pages send the token in.
CSRF_COOKIE = "toro_monitor_csrf"
CSRF_HEADER = "x-toro-csrf"


def csrf_config(secret: str) -> CSRFConfig:
    """The token check: an HTTP-only, same-site-strict cookie signed with ``secret``."""
    return CSRFConfig(
        secret=secret,
        cookie_name=CSRF_COOKIE,
        header_name=CSRF_HEADER,
        cookie_httponly=True,
        cookie_samesite="strict",
    )
