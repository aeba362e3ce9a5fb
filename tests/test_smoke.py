from workers_basic import Noop

from toro_core.testing import scalar, wait_for


def test_enqueue_and_run(toro_app, toro_db, start_worker):
    job = Noop.perform_async(1)
    assert job.id > 0 and job.status == "queued"
    start_worker("-r", "workers_basic", "-c", "2")
    wait_for(
        lambda: (
            scalar(toro_db, "SELECT status FROM toro_jobs WHERE id = %s", (job.id,)) == "complete"
        )
    )
