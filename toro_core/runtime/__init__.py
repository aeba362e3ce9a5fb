"""The worker process: claiming, running, writing outcomes, heartbeats and recovery."""

from toro_core.runtime.process import WorkerProcess, run_worker

__all__ = ["WorkerProcess", "run_worker"]
