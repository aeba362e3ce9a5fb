"""The monitor's Litestar app factory: :func:`create_app`.

The app is self-contained (its own templates, static files, cross-site token check and auth),
so it can run alone (``toro-core monitor``), be mounted in a Litestar app
(:class:`toro_monitor.mount.MonitorPlugin`) or in any ASGI framework (it *is* an ASGI app).
"""

from __future__ import annotations

from typing import Any

import jinja2
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.plugins.htmx import HTMXPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template import TemplateConfig

from toro_core import Toro
from toro_monitor import assets, auth, formatting, handlers, security
from toro_monitor.context import Monitor, provide_monitor
from toro_monitor.options import MonitorOptions
from toro_monitor.store import MonitorStore
from toro_monitor.view import MonitorView
from toro_monitor.views import check_pages


def build_environment(views: list[MonitorView]) -> jinja2.Environment:
    """Jinja with the monitor's templates first, then each view's folder: a view's template
    named after its plugin cannot shadow a monitor template. Autoescaping is always on."""
    loaders: list[jinja2.BaseLoader] = [jinja2.PackageLoader("toro_monitor", "templates")]
    folders = dict.fromkeys(str(view.templates) for view in views)
    loaders.extend(jinja2.FileSystemLoader(folder) for folder in folders)
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(formatting.FILTERS)
    env.tests.update(formatting.TESTS)
    return env


def monitor_views(toro_app: Toro) -> list[MonitorView]:
    """Every plugin's views (``monitor_views`` hook), the first registered plugin's first."""
    views: list[MonitorView] = []
    for result in reversed(toro_app.plugin_manager.hook.monitor_views()):
        views.extend(result or ())
    return views


def create_app(toro_app: Toro, options: MonitorOptions | None = None, **litestar: Any) -> Litestar:
    """Build the monitor for ``toro_app`` (its database and plugins) as a Litestar app.

    ``litestar`` keyword arguments are passed to :class:`litestar.Litestar` (``debug=True``...);
    ``before_send`` hooks given there run after the monitor's own (which set the security
    headers). Basic auth half configured in the environment is an
    :class:`~toro_monitor.options.AuthConfigError`.
    """
    options = options or MonitorOptions()
    views = monitor_views(toro_app)
    check_pages(views, handlers.reserved_paths())
    env = build_environment(views)
    monitor = Monitor(
        toro=toro_app,
        options=options,
        store=MonitorStore(toro_app.connections, options),
        views=views,
        env=env,
        static=assets.static_files(views),
        authenticated=bool(options.basic_auth) or auth.has_authorize_hook(toro_app),
    )

    async def close_store() -> None:
        await monitor.store.close()

    return Litestar(
        route_handlers=handlers.route_handlers(monitor),
        dependencies={"monitor": Provide(provide_monitor, sync_to_thread=False)},
        template_config=TemplateConfig(engine=JinjaTemplateEngine.from_environment(env)),
        csrf_config=security.csrf_config(options.csrf_secret),
        plugins=[HTMXPlugin()],
        before_request=auth.guard(monitor),
        before_send=[security.add_headers, *litestar.pop("before_send", ())],
        on_shutdown=[close_store],
        state=State({"monitor": monitor}),
        openapi_config=None,
        **litestar,
    )
