"""The worker process: claiming, running, writing outcomes, heartbeats and recovery."""

from toro_core.runtime.process import WorkerProcess
from toro_core.runtime.run import embedded_worker, run_worker, threaded_worker

__all__ = ["WorkerProcess", "embedded_worker", "run_worker", "threaded_worker"]
