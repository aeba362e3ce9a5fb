"""toro-scheduler: periodic (cron and interval) jobs for toro."""

__version__ = "0.1.0"
