"""The monitor's modules import each other without a cycle (handlers never import the app)."""

from __future__ import annotations

import ast
from pathlib import Path

import toro_monitor

PACKAGE = Path(toro_monitor.__file__).parent


def module_name(path: Path) -> str:
    parts = ["toro_monitor", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The toro_monitor modules ``path`` imports (at any level of the file)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found & known


def test_no_import_cycle() -> None:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {name: imports_of(path, set(paths)) - {name} for name, path in paths.items()}
    # a package's __init__ importing its own submodules is not a cycle of theirs
    for name in graph:
        graph[name] = {m for m in graph[name] if not m.startswith(name + ".")}
    assert "toro_monitor.app" not in set().union(
        *(deps for name, deps in graph.items() if name.startswith("toro_monitor.handlers"))
    )

    def visit(name: str, trail: list[str]) -> None:
        assert name not in trail, " -> ".join([*trail, name])
        for dep in graph[name]:
            visit(dep, [*trail, name])

    for name in graph:
        visit(name, [])
