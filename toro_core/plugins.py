"""Building the plugin manager: specs, entry points, built-ins, then a pending-hook check.

The manager is never built at import time; each :class:`~toro_core.app.Toro` app builds its own,
so tests choose their plugins freely.

Environment:

* ``TORO_PLUGINS``: comma-separated entry-point names to load (an allow-list); unset loads all.
* ``TORO_DISABLE_PLUGINS``: comma-separated entry-point names never to load (a block-list).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points

import pluggy

from toro_core import builtin, hookspecs
from toro_core.errors import PluginError
from toro_core.markers import PROJECT

log = logging.getLogger("toro.plugins")

ALLOW_ENV = "TORO_PLUGINS"
BLOCK_ENV = "TORO_DISABLE_PLUGINS"


def _names(variable: str) -> set[str] | None:
    value = os.environ.get(variable)
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def selected_entry_points() -> list[EntryPoint]:
    """The ``toro`` entry points that the allow-list and block-list let through."""
    allow, block = _names(ALLOW_ENV), _names(BLOCK_ENV) or set()
    chosen = []
    for ep in entry_points(group=PROJECT):
        if ep.name in block or (allow is not None and ep.name not in allow):
            log.debug("plugin %s not loaded (environment)", ep.name)
            continue
        chosen.append(ep)
    return sorted(chosen, key=lambda ep: ep.name)


def build_plugin_manager(
    *, load_entry_points: bool = True, plugins: Iterable[object] = ()
) -> pluggy.PluginManager:
    """A manager with toro's specs, the selected entry points, ``plugins`` and the built-ins."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    # Historic: every plugin registered from now on may add hook specifications of its own.
    pm.hook.add_hookspecs.call_historic(kwargs={"pluginmanager": pm})
    loaded: dict[str, EntryPoint] = {}
    if load_entry_points:
        for ep in selected_entry_points():
            try:
                pm.register(ep.load(), name=ep.name)
            except Exception as exc:
                raise PluginError(f"plugin {ep.name!r} ({ep.value}) failed to load: {exc}") from exc
            loaded[ep.name] = ep
    # their distributions' names and versions are read only when asked (parsing the metadata
    # of each costs about a millisecond at every start)
    pm.toro_entry_points = loaded  # type: ignore[attr-defined]
    for plugin in plugins:
        pm.register(plugin)
    pm.register(builtin, name="core")
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(str(exc)) from exc
    return pm


def plugin_name(pm: pluggy.PluginManager, plugin: object) -> str:
    """A readable name: the entry point name, the name given at registration, or the plugin's
    module or class name (pluggy's default name is a number)."""
    name = pm.get_name(plugin)
    if name and not name.isdigit():
        return name
    return getattr(plugin, "__name__", None) or type(plugin).__qualname__


def describe(pm: pluggy.PluginManager) -> list[tuple[str, str, list[str]]]:
    """``(name, distribution, hooks)`` for every registered plugin, for ``toro-core plugins``."""
    loaded: dict[str, EntryPoint] = getattr(pm, "toro_entry_points", {})
    rows = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        dist = loaded[name].dist if name in loaded else None
        where = "registered in code" if dist is None else f"{dist.name} {dist.version}"
        if name == "core":
            where = "toro-core (built-in)"
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])
        rows.append((name, where, hooks))
    return rows
