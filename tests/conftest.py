"""Shared test setup: toro's own pytest plugin gives databases, apps and worker processes."""

pytest_plugins = ["toro_core.testing"]
