"""toro-monitor migrations: the indexes the dashboard needs on large tables."""
