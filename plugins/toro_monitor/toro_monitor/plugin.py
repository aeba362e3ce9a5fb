"""Hook implementations of toro-monitor (entry point `monitor` in group `toro`)."""

from __future__ import annotations
