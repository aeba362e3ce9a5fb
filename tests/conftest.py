"""Shared test setup: toro's own pytest plugin gives databases, apps and worker processes;
django_support the toro-django tests' project and workers (Django is imported only by them)."""

pytest_plugins = ["toro_core.testing", "django_support"]
