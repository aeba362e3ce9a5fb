"""Named SQL blocks of toro-monitor (queries.sql)."""
