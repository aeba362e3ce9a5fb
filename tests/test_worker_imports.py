"""A job's class_name never makes a worker import a module, unless its package is in
``WorkerSettings.allow_import`` (``--allow-import``)."""

from __future__ import annotations

import sys

import anyio
from results_workers import Returns

from toro_core.testing import scalar


def test_a_worker_that_imports_nothing_fails_unknown_classes_without_importing(
    toro_app, toro_db, tmp_path, monkeypatch
):
    marker = tmp_path / "imported"
    monkeypatch.setenv("TORO_TEST_IMPORT_MARKER", str(marker))
    sys.modules.pop("import_marker_module", None)
    stranger = scalar(
        toro_db,
        "INSERT INTO toro_jobs (class_name, args) VALUES ('import_marker_module.Thing', '[]')"
        " RETURNING id",
    )

    async def main() -> None:
        async with toro_app.worker(concurrency=2):
            known = await Returns.aperform_async("known")
            assert await toro_app.await_result(known.id, timeout=20) == "known"
            job = await toro_app.ajob(stranger)
            while job is not None and job.status != "failed":
                await anyio.sleep(0.05)
                job = await toro_app.ajob(stranger)
        await toro_app.aclient.close()  # its pool's tasks end with this loop, not at its close

    anyio.run(main)
    job = toro_app.job(stranger)
    assert job is not None and job.status == "failed"
    assert job.properties["error:message"].startswith(
        "worker class 'import_marker_module.Thing': module 'import_marker_module' is not "
        "loaded in this worker process, and a job cannot make a worker import a module"
    )
    assert not marker.exists()
    assert "import_marker_module" not in sys.modules


def test_allow_import_lets_a_worker_import_the_module_a_job_names(
    toro_app, toro_db, tmp_path, monkeypatch
):
    marker = tmp_path / "imported"
    monkeypatch.setenv("TORO_TEST_IMPORT_MARKER", str(marker))
    sys.modules.pop("import_marker_module", None)
    job_id = scalar(
        toro_db,
        "INSERT INTO toro_jobs (class_name, args) VALUES ('import_marker_module.Thing', '[]')"
        " RETURNING id",
    )

    async def main() -> None:
        async with toro_app.worker(concurrency=2, allow_import=["import_marker_module"]):
            job = await toro_app.ajob(job_id)
            while job is not None and job.status != "failed":
                await anyio.sleep(0.05)
                job = await toro_app.ajob(job_id)
        await toro_app.aclient.close()  # its pool's tasks end with this loop, not at its close

    anyio.run(main)
    job = toro_app.job(job_id)
    assert job is not None and job.properties["error:message"] == (
        "'import_marker_module.Thing' is not a toro Worker subclass"
    )
    assert marker.read_text() == "imported\n"
    sys.modules.pop("import_marker_module", None)
