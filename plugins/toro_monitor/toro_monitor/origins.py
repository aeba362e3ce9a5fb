"""Origins (``scheme://host[:port]``) in one normal form, to compare a request's sender with
its host. A light module (no Litestar): the options check their ``allowed_origins`` with it."""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def host_port(netloc: str, scheme: str) -> tuple[str, int | None] | None:
    """``(host, port)`` of ``netloc`` (``Host`` header form), lower case, the port defaulting
    to ``scheme``'s; ``None`` when it is not a host."""
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return parts.hostname.lower(), port if port is not None else DEFAULT_PORTS.get(scheme)


def normal_origin(origin: str) -> str | None:
    """``scheme://host[:port]`` of a URL or origin, lower case, default port dropped; ``None``
    when it is not an http(s) URL."""
    try:
        parts = urlsplit(origin.strip())
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        return None
    found = host_port(parts.netloc, scheme)
    if found is None:
        return None
    host, port = found
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}" + ("" if port == DEFAULT_PORTS[scheme] else f":{port}")
