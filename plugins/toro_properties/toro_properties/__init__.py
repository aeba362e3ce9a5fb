"""toro-properties: Job properties that toro jobs return or set while running, queryable in SQL."""

__version__ = "0.1.0"
