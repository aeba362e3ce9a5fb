"""Static files (``/static/<name>``), from the fixed list built when the app is (never a path
taken from the request)."""

from __future__ import annotations

from litestar import Response, get
from litestar.exceptions import NotFoundException
from litestar.response import File

from toro_monitor import assets
from toro_monitor.context import MonitorDep, StaticName


@get("/static/{name:path}", name="static")
async def static(monitor: MonitorDep, name: StaticName) -> File | Response[str]:
    """A file of the fixed list. Behind the monitor's own auth the answer may be cached by
    the browser only (``private``), never by a shared cache."""
    cache = ("private" if monitor.authenticated else "public") + ", max-age=3600"
    name = name.lstrip("/")
    if name == assets.STATUS_CSS:
        return Response(monitor.status_css, media_type="text/css", headers={"Cache-Control": cache})
    path = monitor.static.get(name)
    if path is None:
        raise NotFoundException("no such file")
    return File(
        path=path,
        media_type=assets.media_type(path),
        content_disposition_type="inline",
        headers={"Cache-Control": cache},
    )


HANDLERS = [static]
