"""toro-retry: Retries with backoff and a per-attempt error history for toro jobs."""

__version__ = "0.1.0"
