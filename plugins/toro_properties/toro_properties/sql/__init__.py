"""toro-properties' SQL, as named blocks in ``queries.sql``."""

from __future__ import annotations

from toro_core.plugin import load_queries


def query(name: str) -> str:
    """One of toro-properties' queries by name."""
    return load_queries("toro_properties.sql")[name]
