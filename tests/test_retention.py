"""Retention: durations, what a prune deletes and keeps, the prune lock, ``toro-core prune``."""

from __future__ import annotations

import functools
import subprocess
import threading
import time

import anyio
import psycopg
import pytest

from toro_core import ConfigurationError, Retention, Status, hookimpl
from toro_core.retention import DAY, format_duration, parse_duration
from toro_core.runtime.pruner import LOCK_KEY, Pruner
from toro_core.settings import WorkerSettings
from toro_core.store import CoreStore, aconnect
from toro_core.testing import rows, run_toro, scalar

# ------------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("12h", 43200), ("7d", 7 * 86400), (" 2D ", 172800)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("soon", "'soon' is not a duration such as 90s, 15m, 12h or 7d, or forever"),
        ("-3d", "'-3d' is negative"),
        ("0s", "the shortest retention is 1s"),
        ("0d", "the shortest retention is 1s"),
        ("12", "'12' has no unit"),
        ("1.5h", "not a duration"),
        ("99999d", "write forever"),
        ("", "not a duration"),
    ],
)
def test_bad_durations_say_what_is_accepted(text, says):
    with pytest.raises(ValueError, match=says):
        parse_duration(text)


def test_forever_and_defaults():
    assert parse_duration("forever") is None and parse_duration("FOREVER") is None
    default = Retention()
    assert (default.complete, default.failed, default.cancelled) == (14 * DAY, 30 * DAY, 30 * DAY)
    assert default.describe() == "complete 14d, failed 30d, cancelled 30d"
    assert Retention.parse(complete="7d", failed="forever").describe() == (
        "complete 7d, failed forever, cancelled 30d"
    )
    assert WorkerSettings().retention == default


def test_bad_retentions_are_refused():
    for bad in (0, -5, float("nan"), float("inf"), "7d", True):
        with pytest.raises(ConfigurationError, match="retention of complete jobs"):
            Retention(complete=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="retention of failed jobs: 'soon'"):
        Retention.parse(failed="soon")
    with pytest.raises(ConfigurationError, match=r"retention must be a toro_core\.Retention"):
        WorkerSettings(retention="7d")  # type: ignore[arg-type]


def test_every_final_status_has_a_horizon_and_no_other_does():
    statuses = [
        Status("queued", "Q", "#000000", final=False),
        Status("running", "R", "#000000", final=False),
        Status("complete", "C", "#000000", final=True),
        Status("failed", "F", "#000000", final=True),
        Status("cancelled", "X", "#000000", final=True),
        Status("skipped", "S", "#000000", final=True),  # a plugin's
    ]
    retention = Retention(complete=60, failed=3600, cancelled=120)
    # a plugin's final status is kept as long as the longest of the kernel's three
    assert retention.horizons(statuses) == {
        "complete": 60,
        "failed": 3600,
        "cancelled": 120,
        "skipped": 3600,
    }
    forever = Retention(complete=60, failed=None, cancelled=120)
    assert forever.horizons(statuses) == {"complete": 60, "cancelled": 120}


# ------------------------------------------------------------------------------- pruning


def insert(conninfo: str, status: str, age: float, count: int = 1, **columns: object) -> list[int]:
    """``count`` jobs in ``status`` that finished (and were created) ``age`` seconds ago."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        found = conn.execute(
            "INSERT INTO toro_jobs (class_name, status, created_at, started_at, finished_at,"
            " scheduled_at, locked_by)"
            " SELECT 'app.Job', %(status)s, now() - make_interval(secs => %(age)s + 1),"
            " now() - make_interval(secs => %(age)s + 1), now() - make_interval(secs => %(age)s),"
            " %(scheduled_at)s, %(locked_by)s"
            " FROM generate_series(1, %(count)s) RETURNING id",
            {
                "status": status,
                "age": age,
                "count": count,
                "scheduled_at": columns.get("scheduled_at"),
                "locked_by": columns.get("locked_by"),
            },
        ).fetchall()
    return [i for (i,) in found]


def remaining(conninfo: str) -> set[int]:
    return {i for (i,) in rows(conninfo, "SELECT id FROM toro_jobs")}


async def prune(conninfo: str, horizons: dict[str, float], **options: object) -> dict[str, int]:
    async with await aconnect(conninfo) as conn:
        pruner = Pruner(CoreStore(connection=conn), horizons, **options)  # type: ignore[arg-type]
        return await pruner.prune()


@pytest.mark.anyio
async def test_each_final_status_is_pruned_by_its_own_retention(toro_db):
    hour = 3600.0
    old_complete = insert(toro_db, "complete", 3 * hour, 3)
    new_complete = insert(toro_db, "complete", 1 * hour, 2)
    old_failed = insert(toro_db, "failed", 30 * hour, 2)
    new_failed = insert(toro_db, "failed", 3 * hour, 2)  # older than complete's retention
    old_cancelled = insert(toro_db, "cancelled", 10 * hour)
    new_cancelled = insert(toro_db, "cancelled", 3 * hour)
    horizons = {"complete": 2 * hour, "failed": 24 * hour, "cancelled": 5 * hour}
    deleted = await prune(toro_db, horizons)
    assert deleted == {"complete": 3, "failed": 2, "cancelled": 1}
    assert remaining(toro_db) == {*new_complete, *new_failed, *new_cancelled}
    assert not remaining(toro_db) & {*old_complete, *old_failed, *old_cancelled}
    assert await prune(toro_db, horizons) == {"complete": 0, "failed": 0, "cancelled": 0}


@pytest.mark.anyio
async def test_jobs_on_their_way_are_never_pruned_however_old(toro_db):
    ancient = 400 * 86400.0
    kept = [
        *insert(toro_db, "queued", ancient, 2),
        *insert(toro_db, "scheduled", ancient, 2, scheduled_at="2999-01-01"),
        *insert(toro_db, "running", ancient, 2, locked_by="00000000-0000-0000-0000-000000000001"),
        *insert(toro_db, "blocked", ancient, 2),
    ]
    gone = insert(toro_db, "complete", ancient)
    # even named in the horizons (no final status could be), they are left alone
    horizons = {"complete": 1.0, "queued": 1.0, "scheduled": 1.0, "running": 1.0, "blocked": 1.0}
    deleted = await prune(toro_db, horizons)
    assert deleted["complete"] == 1 and sum(deleted.values()) == 1
    assert remaining(toro_db) == set(kept) and gone[0] not in remaining(toro_db)


class Skipping:
    """A plugin with a final status of its own."""

    @hookimpl
    def statuses(self):
        return [Status("skipped", "Skipped", "#a0a0a0", final=True)]


def test_a_plugins_final_status_is_pruned_as_the_longest_retention(make_app, toro_db):
    app = make_app(plugins=[Skipping()])
    insert(toro_db, "skipped", 3 * DAY)
    kept = insert(toro_db, "skipped", 1 * DAY)
    insert(toro_db, "complete", 3 * DAY)
    retention = Retention(complete=DAY / 2, failed=2 * DAY, cancelled=DAY)
    horizons = retention.horizons(app.statuses)
    assert horizons["skipped"] == 2 * DAY
    deleted = anyio.run(functools.partial(prune, toro_db, horizons))
    assert deleted["skipped"] == 1 and deleted["complete"] == 1
    assert remaining(toro_db) == set(kept)


@pytest.mark.anyio
async def test_many_jobs_go_in_bounded_batches_from_a_cursor(toro_db, monkeypatch):
    from toro_core.runtime import pruner as module

    monkeypatch.setattr(module, "MAX_BATCH", 64)
    monkeypatch.setattr(module, "MIN_PAUSE", 0.0)
    insert(toro_db, "complete", 7200, 1000)
    kept = insert(toro_db, "complete", 10, 5)
    seen: list[int] = []
    async with await aconnect(toro_db) as conn:
        store = CoreStore(connection=conn)
        batch = store.prune_batch

        async def counting(**kwargs):
            seen.append(kwargs["limit"])
            return await batch(**kwargs)

        monkeypatch.setattr(store, "prune_batch", counting)
        pruner = Pruner(store, {"complete": 3600.0})
        pruner.batch = 10
        assert await pruner.prune() == {"complete": 1000}
    assert max(seen) <= 64 and len(seen) > 1000 // 64
    assert remaining(toro_db) == set(kept)


@pytest.mark.anyio
async def test_one_batch_at_a_time_across_processes(toro_db):
    """While another transaction holds the prune lock, a worker's pass ends at once and
    deletes nothing; the command line's waits its turn."""
    insert(toro_db, "complete", 7200, 10)
    holder = psycopg.connect(toro_db)
    holder.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
    try:
        assert await prune(toro_db, {"complete": 3600.0}) == {"complete": 0}
        assert len(remaining(toro_db)) == 10
        threading.Timer(1.0, holder.rollback).start()
        started = time.monotonic()
        deleted = await prune(toro_db, {"complete": 3600.0}, wait_for_lock=True)
        assert deleted == {"complete": 10} and time.monotonic() - started >= 0.9
    finally:
        holder.close()


# ------------------------------------------------------------------------------- toro-core prune


@pytest.fixture
def cli(toro_db):
    return functools.partial(run_toro, database_url=toro_db, plugins=[])


def test_prune_command_and_its_dry_run(cli, toro_db):
    insert(toro_db, "complete", 10 * DAY, 4)
    insert(toro_db, "complete", 20 * DAY, 3)
    insert(toro_db, "failed", 40 * DAY, 2)
    insert(toro_db, "queued", 400 * DAY, 5)
    before = sorted(remaining(toro_db))
    dry = cli("prune", "--keep-complete", "7d", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert [line.split() for line in dry.stdout.splitlines()] == [
        ["complete", "7", "would", "be", "deleted", "(finished", "more", "than", "7d", "ago)"],
        ["failed", "2", "would", "be", "deleted", "(finished", "more", "than", "30d", "ago)"],
        ["cancelled", "0", "would", "be", "deleted", "(finished", "more", "than", "30d", "ago)"],
        ["total", "9", "would", "be", "deleted"],
    ]
    assert sorted(remaining(toro_db)) == before  # a dry run changes nothing
    out = cli("prune", env={"TORO_KEEP_COMPLETE": "15d", "TORO_KEEP_FAILED": "forever"})
    assert out.returncode == 0, out.stderr
    lines = [line.split() for line in out.stdout.splitlines()]
    assert lines[0] == ["complete", "3", "deleted", "(finished", "more", "than", "15d", "ago)"]
    assert lines[1] == ["failed", "kept", "forever"]
    assert lines[3] == ["total", "3", "deleted"]
    assert scalar(toro_db, "SELECT count(*) FROM toro_jobs") == len(before) - 3
    assert scalar(toro_db, "SELECT count(*) FROM toro_jobs WHERE status = 'queued'") == 5


def _error_line(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 2, out
    assert "Traceback" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert [line for line in lines if "error:" in line] == lines[-1:], out.stderr
    return lines[-1]


@pytest.mark.parametrize("command", ["prune", "start"])
@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (("--keep-complete", "soon"), {}, "argument --keep-complete: 'soon' is not a duration"),
        (("--keep-failed=-3d",), {}, "argument --keep-failed: '-3d' is negative"),
        (("--keep-cancelled", "0s"), {}, "argument --keep-cancelled: '0s' would delete jobs"),
        ((), {"TORO_KEEP_COMPLETE": "12"}, "argument --keep-complete: '12' has no unit"),
        ((), {"TORO_KEEP_FAILED": "0d"}, "argument --keep-failed: '0d' would delete jobs"),
    ],
)
def test_bad_retention_values_are_one_line_naming_the_option(command, args, env, says):
    out = run_toro(command, *args, database_url="dbname=x", plugins=[], env=env)
    assert says in _error_line(out)


@pytest.mark.anyio
async def test_a_refused_prune_is_logged_and_never_stops_the_service(toro_db, caplog):
    """A role without DELETE on toro_jobs: the pass fails, is logged, and the service goes on."""

    from toro_core.errors import StatementError

    class RefusingStore(CoreStore):
        async def prune_batch(self, **kwargs):  # type: ignore[no-untyped-def]
            raise StatementError("permission denied for table toro_jobs", sqlstate="42501")

    async with await aconnect(toro_db) as conn:
        stopping = anyio.Event()
        pruner = Pruner(RefusingStore(connection=conn), {"complete": 1.0}, stopping=stopping)
        async with anyio.create_task_group() as group:
            group.start_soon(pruner.run)
            with anyio.fail_after(20):
                while "refused" not in caplog.text:
                    await anyio.sleep(0.05)
            stopping.set()
    assert "pruning finished jobs was refused (permission denied" in caplog.text
