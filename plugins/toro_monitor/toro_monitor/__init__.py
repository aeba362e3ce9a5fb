"""toro-monitor: The toro dashboard: jobs, queues, processes, charts and retry buttons (Litestar + htmx)."""

__version__ = "0.1.0"
