"""Setup shared by every tests folder: tests/ (the kernel's), plugins/*/tests/ (each plugin's)
and examples/toro_example_plugin/tests/.

toro's own pytest plugin gives databases, apps and worker processes; it is declared here because
pytest takes ``pytest_plugins`` only from the rootdir's conftest, and this one is loaded whichever
folder is run. The toro-django tests' fixtures are their folder's own conftest.

tests/ also holds the helpers the kernel's and the plugins' tests share (monitor_support,
browser_support, the worker modules named by ``-r`` in both): importable in this process through
the ini option ``pythonpath`` (pyproject.toml), and by the worker processes the tests start
through ``start_worker`` below.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # imported by pytest as a plugin, so that its asserts are rewritten
    from toro_core.testing import WorkerFactory

pytest_plugins = ["toro_core.testing"]

#: The helpers shared by the kernel's and the plugins' tests.
SHARED = str(Path(__file__).parent / "tests")


@pytest.fixture
def start_worker(start_worker: WorkerFactory) -> WorkerFactory:
    """toro_core.testing's ``start_worker`` (the test's folder on the workers' ``PYTHONPATH``),
    with tests/ after that folder: ``-r`` also finds the worker modules shared there."""
    if SHARED not in start_worker.paths:
        start_worker.paths.append(SHARED)
    return start_worker
