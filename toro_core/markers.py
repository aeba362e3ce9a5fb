"""The pluggy markers of the ``toro`` project: ``hookimpl`` is what plugins import."""

from __future__ import annotations

import pluggy

PROJECT = "toro"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
