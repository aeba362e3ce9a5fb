"""Hook implementations of toro-properties (entry point `properties` in group `toro`)."""

from __future__ import annotations
