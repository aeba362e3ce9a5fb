"""A worker runs only classes from modules it loaded: a row never makes it import a module."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest
from hardening_workers import Quick

from toro_core import Worker
from toro_core.catalog import resolve
from toro_core.errors import UnknownWorkerError
from toro_core.testing import rows, scalar, wait_for

TESTS = Path(__file__).parent

MARKER_MODULE = """
import os
open(os.environ["HARDENING_MARKER"], "w").write("imported")
from toro_core import Worker

class Anything(Worker):
    def perform(self):
        pass
"""


def _insert(db: str, class_name: str) -> int:
    with psycopg.connect(db, autocommit=True) as conn:
        return conn.execute(
            "INSERT INTO toro_jobs (class_name) VALUES (%s) RETURNING id", (class_name,)
        ).fetchone()[0]


def _reason(db: str, job_id: int) -> tuple[str, str]:
    return rows(
        db,
        "SELECT status, properties->>'error:message' FROM toro_jobs WHERE id = %s",
        (job_id,),
    )[0]


@pytest.fixture
def marker(tmp_path: Path) -> dict[str, str]:
    """A module whose top-level code leaves a marker file, on the worker's PYTHONPATH."""
    lazy = tmp_path / "lazy_pkg"
    lazy.mkdir()
    (lazy / "__init__.py").write_text("")
    (lazy / "jobs.py").write_text(MARKER_MODULE.replace("HARDENING_MARKER", "LAZY_MARKER"))
    (tmp_path / "hardening_marker.py").write_text(MARKER_MODULE)
    return {
        "PYTHONPATH": os.pathsep.join([str(TESTS), str(tmp_path)]),
        "HARDENING_MARKER": str(tmp_path / "marker"),
        "LAZY_MARKER": str(tmp_path / "lazy-marker"),
    }


def test_a_row_naming_a_module_outside_r_fails_and_the_module_never_runs(
    toro_app, toro_db, start_worker, marker
):
    outside = _insert(toro_db, "hardening_marker.Anything")
    zen = _insert(toro_db, "this.X")
    missing = _insert(toro_db, "hardening_workers.Missing")
    not_worker = _insert(toro_db, "os.getcwd")
    helper = _insert(toro_db, "hardening_helpers.HelperWorker")  # imported by the -r module
    good = Quick.perform_async(1)
    worker = start_worker("-r", "hardening_workers", env=marker)
    wait_for(
        lambda: (
            scalar(toro_db, "SELECT count(*) FROM toro_jobs WHERE status IN ('queued', 'running')")
            == 0
        )
    )
    status, reason = _reason(toro_db, outside)
    assert status == "failed"
    assert "module 'hardening_marker' is not loaded in this worker process" in reason
    assert "-r hardening_marker" in reason
    assert not Path(marker["HARDENING_MARKER"]).exists()  # its top-level code never ran
    assert "module 'this' is not loaded" in _reason(toro_db, zen)[1]
    assert "The Zen of Python" not in worker.log()
    assert "module 'hardening_workers' has no class 'Missing'" in _reason(toro_db, missing)[1]
    assert "'os.getcwd' is not a toro Worker subclass" in _reason(toro_db, not_worker)[1]
    assert _reason(toro_db, helper)[0] == "complete"
    assert _reason(toro_db, good.id)[0] == "complete"
    assert worker.stop() == 0


def test_allow_import_lets_jobs_import_modules_of_named_packages_only(
    toro_app, toro_db, start_worker, marker
):
    lazy = _insert(toro_db, "lazy_pkg.jobs.Anything")
    outside = _insert(toro_db, "hardening_marker.Anything")
    start_worker("-r", "hardening_workers", env={**marker, "TORO_ALLOW_IMPORT": "lazy_pkg"})
    wait_for(
        lambda: (
            scalar(toro_db, "SELECT count(*) FROM toro_jobs WHERE status IN ('queued', 'running')")
            == 0
        )
    )
    assert _reason(toro_db, lazy)[0] == "complete"
    assert Path(marker["LAZY_MARKER"]).exists()
    assert _reason(toro_db, outside)[0] == "failed"
    assert not Path(marker["HARDENING_MARKER"]).exists()


def test_resolve_reads_loaded_modules_without_importing(monkeypatch):
    import sys

    assert resolve(Quick.class_name()) is Quick
    with pytest.raises(UnknownWorkerError, match=r"module 'json\.nope' is not loaded"):
        resolve("json.nope.Thing")  # json is a loaded package; json.nope was never imported
    assert "json.nope" not in sys.modules
    with pytest.raises(UnknownWorkerError, match="module 'email' has no class 'Nothing'"):
        import email  # noqa: F401

        resolve("email.Nothing")
    with pytest.raises(UnknownWorkerError, match="module 'antigravity' is not loaded"):
        resolve("antigravity.Fly")
    assert "antigravity" not in sys.modules


class Embedded(Worker):
    """Defined by the test module: an embedded worker in this process runs it."""

    async def perform(self) -> None:
        pass


@pytest.mark.anyio
async def test_an_embedded_worker_runs_the_classes_its_application_imported(
    toro_app, toro_db, tmp_path, monkeypatch
):
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("HARDENING_MARKER", str(tmp_path / "marker"))
    (tmp_path / "hardening_marker.py").write_text(MARKER_MODULE)
    job = await Embedded.aperform_async()
    outside = _insert(toro_db, "hardening_marker.Anything")
    async with toro_app.worker(concurrency=2, poll_interval=0.1):
        for _ in range(200):
            found = dict(rows(toro_db, "SELECT id, status FROM toro_jobs"))
            if found[job.id] == "complete" and found[outside] == "failed":
                break
            import anyio

            await anyio.sleep(0.05)
    assert _reason(toro_db, job.id)[0] == "complete"
    assert "is not loaded" in _reason(toro_db, outside)[1]
    assert not (tmp_path / "marker").exists()
