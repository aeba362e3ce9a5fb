"""toro-demo: ``toro-core demo``, toro working in one command (see the README)."""

__version__ = "0.1.0"
