"""toro-scheduler: perform_in, perform_at and periodic jobs for toro."""

__version__ = "0.1.0"
