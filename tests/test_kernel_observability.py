"""The kernel facilities observability plugins use: the ``job_headers`` hook and the
``headers`` column, the ``start_options`` hook, and the live numbers of ``context.stats``."""

from __future__ import annotations

import logging

import anyio
import pytest
from workers_basic import Fails, Noop

from toro_core import ConfigurationError, WrittenOutcome, hookimpl
from toro_core.cli import build_parser
from toro_core.plugin import ProcessStats
from toro_core.testing import as_default, drain, rows, scalar


class Headers:
    def __init__(self, **values: object) -> None:
        self.values = values
        self.calls = 0

    @hookimpl
    def job_headers(self, worker_class):
        self.calls += 1
        return dict(self.values)


def test_headers_are_stored_in_bulk_too_and_the_first_plugin_wins(make_app, toro_db):
    first, second = Headers(a="1", shared="first"), Headers(b="2", shared="second")
    with as_default(make_app(plugins=[first, second])):
        Noop.perform_async()
        Noop.perform_bulk([(), (), ()])
    assert first.calls == second.calls == 2  # once per enqueue call
    stored = [h for (h,) in rows(toro_db, "SELECT headers FROM toro_jobs ORDER BY id")]
    assert stored == [{"a": "1", "b": "2", "shared": "first"}] * 4


def test_no_implementation_no_call_and_no_headers(make_app, toro_db):
    with as_default(make_app()) as app:
        assert not app.has("job_headers")
        Noop.perform_async()
    assert rows(toro_db, "SELECT headers FROM toro_jobs") == [(None,)]


def test_headers_must_be_strings_and_nothing_is_written_otherwise(make_app, toro_db):
    with as_default(make_app(plugins=[Headers(count=3)])):
        with pytest.raises(TypeError, match="header 'count' of Noop is a int"):
            Noop.perform_async()
        with pytest.raises(TypeError, match="header names and values are strings"):
            Noop.perform_bulk([()])
    assert scalar(toro_db, "SELECT count(*) FROM toro_jobs") == 0


class Observe:
    """Records each attempt's job and the process context."""

    def __init__(self) -> None:
        self.jobs = []
        self.context = None

    @hookimpl
    def worker_services(self, context):
        self.context = context
        return []

    @hookimpl
    def job_started(self, execution):
        self.jobs.append(execution.job)


def test_claimed_jobs_carry_their_headers_and_stats_count(make_app, toro_db):
    observer = Observe()
    app = make_app(plugins=[Headers(traceparent="00-abc"), observer])
    assert ProcessStats().as_dict() == dict.fromkeys(ProcessStats().as_dict(), 0)

    async def main() -> None:
        await app.aclient.enqueue_bulk(Noop, [(), ()])
        await app.aclient.enqueue(Fails, ["x"])
        async with app.worker(concurrency=4) as worker:
            with anyio.fail_after(20):
                while observer.context is None or observer.context.stats.outcomes_written < 3:
                    await anyio.sleep(0.02)
            stats = observer.context.stats
            assert worker.ready.is_set()
            assert (stats.concurrency, stats.busy, stats.pending_outcomes) == (4, 0, 0)
            assert (stats.claimed, stats.outcomes_written, stats.outcomes_refused) == (3, 3, 0)
            assert (stats.claim_errors, stats.reconnects) == (0, 0)
            assert stats.as_dict()["claimed"] == 3
        await app.aclose()

    anyio.run(main, backend="asyncio")
    assert [job.headers for job in observer.jobs] == [{"traceparent": "00-abc"}] * 3


class Written(Observe):
    """Also records every ``outcomes_written`` call: the context and the outcomes."""

    def __init__(self, *, broken: bool = False) -> None:
        super().__init__()
        self.broken = broken
        self.calls: list[tuple[object, list[WrittenOutcome]]] = []

    @hookimpl
    def outcomes_written(self, context, outcomes):
        self.calls.append((context, list(outcomes)))
        if self.broken:
            raise RuntimeError("this observer is broken")


def test_outcomes_written_once_per_batch_as_the_rows_have_them(make_app, toro_db, caplog):
    """Every outcome reaches ``outcomes_written`` once, in a call per written batch (not per
    job), with the status and run time its row has; one implementation that raises is logged
    and the next one is still called, and the jobs are written all the same."""
    broken, observer = Written(broken=True), Written()
    app = make_app(plugins=[broken, observer])
    assert app.has("outcomes_written")

    async def main() -> None:
        await app.aclient.enqueue_bulk(Noop, [()] * 40)
        await app.aclient.enqueue_bulk(Fails, [("x",)] * 5)
        async with app.worker(concurrency=10):
            with anyio.fail_after(20):
                while sum(len(outcomes) for _, outcomes in observer.calls) < 45:
                    await anyio.sleep(0.02)
        await app.aclose()

    with caplog.at_level(logging.ERROR, logger="toro.job"):
        anyio.run(main, backend="asyncio")
    reported = [outcome for _, outcomes in observer.calls for outcome in outcomes]
    assert len(observer.calls) < len(reported) == 45
    assert {context for context, _ in observer.calls} == {observer.context}
    table = {
        job_id: (status, seconds)
        for job_id, status, seconds in rows(
            toro_db,
            "SELECT id, status, extract(epoch FROM finished_at - started_at)::float8"
            " FROM toro_jobs",
        )
    }
    assert sorted(outcome.job.id for outcome in reported) == sorted(table)
    for outcome in reported:
        status, seconds = table[outcome.job.id]
        assert outcome.status == status
        assert outcome.duration == pytest.approx(seconds, abs=2e-6)
    assert [len(outcomes) for _, outcomes in broken.calls] == [
        len(outcomes) for _, outcomes in observer.calls
    ]
    assert "the outcomes_written hook of plugin" in caplog.text
    assert "this observer is broken" in caplog.text


class AsyncWritten:
    @hookimpl
    async def outcomes_written(self, outcomes):  # wrong: the hook is synchronous
        raise AssertionError("never run")


def test_an_async_outcomes_written_is_an_error_naming_it(make_app, caplog):
    """An ``async def`` implementation is never awaited: the kernel says so in the log (no
    'coroutine was never awaited' warning), and the jobs are written all the same."""
    app = make_app(plugins=[AsyncWritten()])
    with as_default(app), caplog.at_level(logging.ERROR, logger="toro.job"):
        job = Noop.perform_async()
        drain()
    assert "outcomes_written hook of plugin" in caplog.text
    assert "it is async; outcomes_written implementations are sync" in caplog.text
    assert app.job(job.id).status == "complete"


def test_drain_reports_its_outcomes_too(make_app, toro_db):
    """A test's ``drain()`` writes each outcome as it runs the job, and reports it."""
    observer = Written()
    with as_default(make_app(plugins=[observer])):
        ids = [Noop.perform_async().id, Fails.perform_async("x").id]
        drain()
    reported = [(o.job.id, o.status) for _, outcomes in observer.calls for o in outcomes]
    assert reported == list(zip(ids, ["complete", "failed"], strict=True))
    assert dict(reported) == dict(rows(toro_db, "SELECT id, status FROM toro_jobs"))


def test_outcomes_written_is_not_called_where_no_plugin_implements_it(make_app):
    assert not make_app().has("outcomes_written")


class Option:
    def __init__(self, *flags: str) -> None:
        self.flags = flags

    @hookimpl
    def start_options(self, options):
        for flag in self.flags:
            options.add(flag, type=int, default=7, help="a plugin's number")


def start_args(app, argv, monkeypatch, **env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return build_parser(app).parse_args(["start", *argv])


def test_plugin_start_options_read_flag_variable_and_default(make_app, monkeypatch):
    app = make_app(plugins=[Option("--my-number")])
    args = start_args(app, [], monkeypatch)
    assert args.plugin_options == ("my_number",) and args.my_number == 7
    args = start_args(app, [], monkeypatch, TORO_MY_NUMBER="12")
    assert args.my_number == 12
    args = start_args(app, ["--my-number", "13"], monkeypatch, TORO_MY_NUMBER="12")
    assert args.my_number == 13


def test_plugin_start_options_are_in_the_help(make_app, capsys):
    with pytest.raises(SystemExit):
        build_parser(make_app(plugins=[Option("--my-number")])).parse_args(["start", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert (
        "options of plugins: --my-number MY_NUMBER a plugin's number ($TORO_MY_NUMBER, 7)" in text
    )


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("--queue", "conflicting option string"),
        ("--concurrency", "the name 'concurrency' is taken"),
        ("--modules", "the name 'modules' is taken"),
        ("-m", "a long flag"),
        ("--Bad_Name", "a long flag"),
    ],
)
def test_bad_plugin_start_options_are_errors_naming_them(make_app, flag, message):
    with pytest.raises(ConfigurationError, match=message):
        build_parser(make_app(plugins=[Option(flag)]))


def test_a_bad_plugin_option_value_is_a_usage_error(make_app, monkeypatch, capsys):
    app = make_app(plugins=[Option("--my-number")])
    with pytest.raises(SystemExit) as exit_info:
        start_args(app, ["--my-number", "many"], monkeypatch)
    assert exit_info.value.code == 2
    assert "argument --my-number: invalid int value: 'many'" in capsys.readouterr().err
