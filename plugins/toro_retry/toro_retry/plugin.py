"""Hook implementations of toro-retry (entry point `retry` in group `toro`)."""

from __future__ import annotations
