"""Mounting the monitor in another app.

* In a Litestar app: ``Litestar(plugins=[MonitorPlugin(toro_app, path="/monitor")])``.
* In any ASGI framework: mount :func:`asgi_app` (Starlette: ``Mount("/monitor", app=...)``);
  the monitor reads its prefix from the ASGI ``root_path`` that the framework sets.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar, asgi
from litestar.config.app import AppConfig
from litestar.plugins import InitPlugin
from litestar.types import Receive, Scope, Send

from toro_core import Toro
from toro_monitor.app import create_app
from toro_monitor.options import MonitorOptions

#: The keys of an HTTP connection scope the ASGI spec defines: a mounted monitor gets only these,
#: not the host app's own scope entries.
ASGI_KEYS = frozenset(
    {
        "type",
        "asgi",
        "http_version",
        "method",
        "scheme",
        "path",
        "raw_path",
        "query_string",
        "root_path",
        "headers",
        "client",
        "server",
        "extensions",
    }
)


def asgi_app(toro_app: Toro, options: MonitorOptions | None = None) -> Litestar:
    """The monitor as a plain ASGI app (a Litestar app is one), for any framework's mount."""
    return create_app(toro_app, options)


class MonitorPlugin(InitPlugin):
    """Mounts the monitor under ``path`` in the Litestar app it is given to.

    The monitor keeps its own templates, static files, token check and auth; the host app's
    middleware and guards run in front of it as for any mounted app. Its database pool closes
    when the host app shuts down.
    """

    def __init__(
        self, toro_app: Toro, path: str = "/monitor", options: MonitorOptions | None = None
    ) -> None:
        if not path.startswith("/") or path == "/":
            raise ValueError("mount path must start with '/' and not be '/'")
        self.path = path.rstrip("/")
        self.monitor = create_app(toro_app, options)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        monitor, prefix = self.monitor, self.path

        @asgi(prefix, is_mount=True, copy_scope=True)
        async def toro_monitor(scope: Scope, receive: Receive, send: Send) -> None:
            # Litestar hands a mount the path below its prefix; the monitor wants the full path
            # and the prefix as root_path (as Starlette and ASGI servers give it).
            root = scope.get("root_path", "").rstrip("/") + prefix
            path = root + scope["path"]
            inner: Any = {k: v for k, v in scope.items() if k in ASGI_KEYS}
            inner.update(root_path=root, path=path, raw_path=path.encode(), state={})
            await monitor(inner, receive, send)

        async def close() -> None:
            await monitor.state.monitor.store.close()

        app_config.route_handlers.append(toro_monitor)
        app_config.on_shutdown.append(close)
        return app_config
