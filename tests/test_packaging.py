"""Packaging smoke test: every wheel builds, installs into a clean virtual environment and
brings its data files (SQL, templates, static files) along."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = [ROOT, *sorted((ROOT / "plugins").iterdir()), ROOT / "examples" / "toro_example_plugin"]


@pytest.mark.slow
def test_wheels_install_alone_and_list_every_plugin(tmp_path: Path):
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed")
    dist = tmp_path / "dist"
    for package in PACKAGES:
        subprocess.run(
            [uv, "build", "--wheel", "--quiet", "-o", str(dist), str(package)], check=True
        )
    wheels = sorted(dist.glob("*.whl"))
    assert len(wheels) == len(PACKAGES)
    for wheel in wheels:  # the flat layout must not ship tests/ or plugins/ inside toro-core
        names = subprocess.run(
            [sys.executable, "-m", "zipfile", "-l", str(wheel)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "tests/" not in names and "plugins/" not in names, wheel.name

    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(python), *map(str, wheels)], check=True
    )

    plugins = subprocess.run(
        [str(venv / "bin" / "toro-core"), "plugins"], capture_output=True, text=True, check=True
    ).stdout
    for name, hook in [
        ("retry", "around_job"),
        ("scheduler", "worker_services"),
        ("properties", "around_job"),
        ("monitor", "cli_commands"),
        ("example", "monitor_views"),
    ]:
        assert f"toro-{name if name != 'example' else 'example-plugin'} 0.1.0" in plugins, plugins
        assert hook in plugins
    schema = subprocess.run(
        [str(venv / "bin" / "toro-core"), "migrate", "--sql"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for owner in ("core", "scheduler", "monitor"):
        assert f"-- {owner} 0001_" in schema, owner
    files = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.resources as r;"
            "t = r.files('toro_monitor');"
            "print(t.joinpath('templates/toro_monitor/base.html').is_file(),"
            " any(p.name.startswith('htmx-2.0') for p in t.joinpath('static').iterdir()),"
            " r.files('toro_core.store').joinpath('queries.sql').is_file(),"
            " r.files('toro_scheduler')"
            ".joinpath('templates/toro_scheduler/scheduled.html').is_file())",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert files == ["True", "True", "True", "True"]
