"""The static files the monitor serves: a fixed list built once, never a path from a request."""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from toro_monitor.view import MonitorView

HTMX_FILE = "htmx-2.0.11.min.js"
OWN_FILES = (HTMX_FILE, "monitor.css", "monitor.js")
#: The stylesheet of the statuses' colours, written at start-up from the registered statuses
#: (the badges take their colour from it: the CSP allows no inline style).
STATUS_CSS = "statuses.css"


def static_files(views: Iterable[MonitorView]) -> dict[str, Path]:
    """``{url name: file}`` for the monitor's files and every file of the views' static folders
    (``<name>/<relative path>``); two views claiming one name is an error."""
    own = resources.files("toro_monitor") / "static"
    files: dict[str, Path] = {name: Path(str(own / name)) for name in OWN_FILES}
    owners: dict[str, str] = {}
    for view in views:
        for name, folder in view.static.items():
            if name in owners and owners[name] != str(folder):
                raise ValueError(f"two monitor views serve static name {name!r}")
            owners[name] = str(folder)
            for path in sorted(Path(folder).rglob("*")):
                if path.is_file():
                    files[f"{name}/{path.relative_to(folder).as_posix()}"] = path
    return files


def status_stylesheet(colours: Iterable[tuple[str, str]]) -> str:
    """``.badge[data-status="name"] { --badge: colour }`` per ``(name, colour)``. Names and
    colours are the registered statuses' (``[a-z0-9_]`` and ``#rrggbb``, checked by
    :class:`toro_core.Status`), so nothing here needs escaping."""
    lines = ["/* The registered statuses' colours (toro monitor, written at start-up). */"]
    lines += [f'.badge[data-status="{name}"] {{ --badge: {colour}; }}' for name, colour in colours]
    return "\n".join(lines) + "\n"


def media_type(path: Path) -> str:
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"
