"""toro-monitor: the toro dashboard (Litestar + htmx).

``create_app(toro_app, options)`` builds it as a Litestar app (an ASGI app);
``MonitorPlugin(toro_app, path="/monitor")`` mounts it in an existing Litestar app;
``toro-core monitor`` serves it.

Names are imported lazily: worker processes load this package's hooks (``toro_monitor.plugin``)
without paying for importing Litestar.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["MonitorOptions", "MonitorPlugin", "asgi_app", "create_app"]
__version__ = "0.1.0"

_WHERE = {
    "create_app": "toro_monitor.app",
    "MonitorPlugin": "toro_monitor.mount",
    "asgi_app": "toro_monitor.mount",
    "MonitorOptions": "toro_monitor.options",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'toro_monitor' has no attribute {name!r}")
