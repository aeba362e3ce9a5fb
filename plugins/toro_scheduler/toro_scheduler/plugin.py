"""Hook implementations of toro-scheduler (entry point `scheduler` in group `toro`)."""

from __future__ import annotations
