"""``toro-core`` run by tests as users run it: one-off commands and worker processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from toro_core.testkit.databases import routed, wait_for


def run_toro(
    *args: str,
    database_url: str | None = None,
    plugins: Sequence[str] | None = None,
    env: dict[str, str] | None = None,
    paths: Sequence[str] = (),
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run ``toro-core *args`` in a subprocess as a user would; its output is text.

    The environment is this process's without any ``TORO_*`` variable, then
    ``TORO_DATABASE_URL`` when ``database_url`` is given, ``TORO_PLUGINS`` (the entry points
    to load) when ``plugins`` is, ``paths`` in front of ``PYTHONPATH`` (modules for ``-r``),
    and ``env`` last.
    """
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TORO_")}
    if database_url is not None:
        environment["TORO_DATABASE_URL"] = database_url
    if plugins is not None:
        environment["TORO_PLUGINS"] = ",".join(plugins)
    if paths:
        environment["PYTHONPATH"] = os.pathsep.join([*paths, environment.get("PYTHONPATH", "")])
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "toro_core", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class WorkerHandle:
    """A ``toro-core start`` subprocess started by a test."""

    def __init__(self, popen: subprocess.Popen[bytes], log_path: Path) -> None:
        self.popen = popen
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def signal(self, signum: int) -> None:
        self.popen.send_signal(signum)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then wait; returns the exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(timeout=timeout)

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class WorkerFactory:
    """Starts worker processes for one test; reaps them at teardown."""

    def __init__(self, conninfo: str, tmp_path: Path, paths: Sequence[str]) -> None:
        self.conninfo = conninfo
        #: ``TORO_*`` variables of how workers connect (see :func:`routed`).
        self.routes = {f"TORO_{key.upper()}": value for key, value in routed(conninfo).items()}
        self.tmp_path = tmp_path
        self.paths = list(paths)
        self.handles: list[WorkerHandle] = []

    def __call__(
        self,
        *args: str,
        plugins: Sequence[str] = (),
        env: dict[str, str] | None = None,
        wait_ready: bool = True,
    ) -> WorkerHandle:
        """Start ``toro-core start *args`` with only the entry-point ``plugins`` named."""
        environment = dict(os.environ)
        environment.update(
            self.routes,
            TORO_PLUGINS=",".join(plugins),
            PYTHONPATH=os.pathsep.join([*self.paths, environment.get("PYTHONPATH", "")]),
            PYTHONUNBUFFERED="1",
        )
        environment.pop("TORO_DISABLE_PLUGINS", None)
        environment.update(env or {})
        log_path = self.tmp_path / f"worker-{len(self.handles)}.log"
        log_file = open(log_path, "wb")
        popen = subprocess.Popen(
            [sys.executable, "-m", "toro_core", "start", *args],
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        handle = WorkerHandle(popen, log_path)
        self.handles.append(handle)
        if wait_ready:
            wait_for(
                lambda: "running: queues" in handle.log() or popen.poll() is not None, timeout=30
            )
            if popen.poll() is not None:
                raise AssertionError(f"worker exited with {popen.returncode}:\n{handle.log()}")
        return handle

    def close(self) -> None:
        for handle in self.handles:
            with contextlib.suppress(Exception):
                if handle.popen.poll() is None:
                    handle.popen.send_signal(signal.SIGCONT)
                    handle.kill()
