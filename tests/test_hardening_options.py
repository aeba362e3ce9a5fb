"""Worker options: a value that would break a worker is one clear line, never a traceback."""

from __future__ import annotations

import subprocess

import pytest

from toro_core.errors import ConfigurationError
from toro_core.settings import WorkerSettings
from toro_core.testing import run_toro


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_toro(*args, database_url="dbname=x", env=env)


def _error_line(stderr: str) -> str:
    """The one line that says what is wrong (argparse prints its usage above it)."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert [line for line in lines if "error:" in line] == lines[-1:], stderr
    return lines[-1]


REFUSED_FLAGS = {
    ("-c", "0"): "--concurrency: '0' is not a whole number of at least 1",
    ("-c", "1001"): "concurrency must be between 1 and 1000 (got 1001); for more, run more "
    "worker processes",
    ("--batch-size", "0"): "--batch-size: '0' is not a whole number of at least 1",
    ("--poll-interval", "0"): "--poll-interval: '0' is not a number of seconds above 0",
    ("--poll-interval", "inf"): "--poll-interval: 'inf' is not a number of seconds above 0",
    ("--heartbeat-interval", "-1"): "--heartbeat-interval: '-1' is not a number of seconds",
    ("--shutdown-timeout", "-5"): "--shutdown-timeout: '-5' is not a number of seconds, 0",
    ("--dead-after", "4", "--heartbeat-interval", "5"): "dead_after (4 s, --dead-after) must "
    "be more than twice heartbeat_interval (5 s, --heartbeat-interval)",
    ("--max-recoveries", "0"): "--max-recoveries: '0' is not a whole number of at least 1",
    ("-q", ""): "queue names must be non-empty",
    ("-q", "  "): "queue names must be non-empty",
    ("--allow-import", "not a package"): "allow_import names packages such as 'myapp.jobs'",
    ("--log-level", "LOUD"): "argument --log-level: invalid choice: 'LOUD'",
}

REFUSED_VARIABLES = {
    "TORO_LOG_LEVEL": ("LOUD", "TORO_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR"),
    "TORO_SYNCHRONOUS_COMMIT": ("maybe", "TORO_SYNCHRONOUS_COMMIT must be on or off"),
    "TORO_MAX_RECOVERIES": ("lots", "'lots' is not a whole number of at least 1"),
    "TORO_BATCH_SIZE": ("0", "'0' is not a whole number of at least 1"),
    "TORO_DEAD_AFTER": ("nan", "'nan' is not a number of seconds above 0"),
}


@pytest.mark.parametrize("args", list(REFUSED_FLAGS), ids=" ".join)
def test_bad_flags_are_one_line(args):
    out = cli("start", *args)
    assert out.returncode in (1, 2), out.stderr
    assert REFUSED_FLAGS[args] in _error_line(out.stderr)


@pytest.mark.parametrize("variable", list(REFUSED_VARIABLES))
def test_bad_variables_are_one_line(variable):
    value, message = REFUSED_VARIABLES[variable]
    out = cli("start", env={variable: value})
    assert out.returncode in (1, 2) and message in _error_line(out.stderr)


def test_good_values_get_as_far_as_the_database():
    """Accepted values reach the connection (which fails: there is no database 'x')."""
    out = cli(
        "start",
        "--max-recoveries",
        "5",
        "--allow-import",
        "myapp.jobs",
        env={"TORO_LOG_LEVEL": "warning", "TORO_SYNCHRONOUS_COMMIT": "on"},
    )
    assert out.returncode == 1 and "database" in out.stderr and "Traceback" not in out.stderr


def test_settings_refuse_what_the_command_line_refuses():
    for bad in (
        {"batch_size": 0},
        {"poll_interval": 0},
        {"poll_interval": float("nan")},
        {"shutdown_timeout": -1},
        {"queues": ("",)},
        {"queues": ()},
        {"concurrency": 1001},
        {"max_recoveries": 0},
        {"dead_after": float("inf")},
        {"heartbeat_interval": 20.0},
        {"allow_import": ("a..b",)},
    ):
        with pytest.raises(ConfigurationError):
            WorkerSettings(**bad)  # type: ignore[arg-type]
    assert WorkerSettings(allow_import=("myapp.jobs",), max_recoveries=1).max_recoveries == 1
