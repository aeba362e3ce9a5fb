"""Static files (``/static/<name>``), from the fixed list built when the app is (never a path
taken from the request)."""

from __future__ import annotations

from litestar import get
from litestar.exceptions import NotFoundException
from litestar.response import File

from toro_monitor import assets
from toro_monitor.context import MonitorDep, StaticName


@get("/static/{name:path}", name="static")
async def static(monitor: MonitorDep, name: StaticName) -> File:
    path = monitor.static.get(name.lstrip("/"))
    if path is None:
        raise NotFoundException("no such file")
    return File(
        path=path,
        media_type=assets.media_type(path),
        content_disposition_type="inline",
        headers={"Cache-Control": "public, max-age=3600"},
    )


HANDLERS = [static]
