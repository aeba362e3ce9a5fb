"""Enqueue, options, statuses and plugins: the kernel's contract without a worker process."""

from __future__ import annotations

import datetime
import gc
from contextlib import asynccontextmanager

import psycopg
import pytest
from workers_basic import Named, Noop

from toro_core import Call, Status, Toro, UnknownOptionError, Worker, hookimpl
from toro_core.encoding import READ_BACK_CHUNK, encode_many
from toro_core.errors import DuplicateStatusError, PluginError, UnknownStatusError
from toro_core.testing import scalar


def test_non_json_arguments_are_refused_naming_the_argument(toro_app, toro_db):
    with pytest.raises(TypeError, match=r"argument 1 is a datetime\.datetime"):
        Noop.perform_async("ok", datetime.datetime.now())
    with pytest.raises(TypeError, match=r"argument 0\['when'\] is a datetime\.date"):
        Noop.perform_async({"when": datetime.date.today()})
    with pytest.raises(TypeError, match=r"argument 0 is nan"):
        Noop.perform_async(float("nan"))
    with pytest.raises(TypeError, match=r"key 1 of type int"):
        Noop.perform_async({1: "int keys would silently become strings"})
    with pytest.raises(TypeError, match=r"perform_bulk item 2: argument 0 is a builtins.set"):
        Noop.perform_bulk([(1,), (2,), ({3},)])
    assert scalar(toro_db, "SELECT count(*) FROM toro_jobs") == 0


def test_bulk_checks_every_item_as_one_call_would(toro_app, toro_db):
    # The bulk's fast check (one read-back of the lot) must refuse what a single call refuses
    # and accept what it accepts, naming the item.
    with pytest.raises(TypeError, match=r"item 2: argument 0\['a'\] has a key 1 of type int"):
        Noop.perform_bulk([({"a": {"k": 1}},), ({"b": 2},), ({"a": {1: "becomes '1'"}},)])
    with pytest.raises(TypeError, match=r"item 1: keyword argument 'x' has a key True"):
        Noop.perform_bulk([Call(1, x={"ok": 1}), Call(2, x={True: 1})])
    with pytest.raises(TypeError, match=r"item 1: argument 0 nests lists and dicts more than"):
        deep: list[object] = []
        for _ in range(120):
            deep = [deep]
        Noop.perform_bulk([(1,), (deep,)])
    assert scalar(toro_db, "SELECT count(*) FROM toro_jobs") == 0

    # Tuples inside arguments are lists once stored; keyword arguments only where given.
    ids = Noop.perform_bulk([((1, (2, 3)),), Call("k", flag={"on": [True]}), ("{not json}",)])
    rows = scalar(
        toro_db, "SELECT json_agg(json_build_array(args, kwargs) ORDER BY id) FROM toro_jobs"
    )
    assert rows == [[[[1, [2, 3]]], {}], [["k"], {"flag": {"on": [True]}}], [["{not json}"], {}]]
    assert len(ids) == 3


def test_bulk_read_back_in_chunks_finds_a_coerced_key_anywhere(toro_app, toro_db):
    # The read-back runs a chunk at a time: a key JSON would coerce is found in the last
    # chunk as in the first, and named by its item.
    last = 3 * READ_BACK_CHUNK + 7
    items: list[tuple[object, ...]] = [({"n": i},) for i in range(last)]
    items.append(({"n": {2.5: "becomes '2.5'"}},))
    with pytest.raises(TypeError, match=rf"item {last}: argument 0\['n'\] has a key 2\.5"):
        Noop.perform_bulk(items)
    assert scalar(toro_db, "SELECT count(*) FROM toro_jobs") == 0


def test_bulk_check_barely_runs_the_garbage_collector():
    # Read back all at once, 10,000 items held 30,000 new lists and dicts: some 40 collections
    # and now and then a full one of every object of the process, in the enqueue's time.
    values = [({"i": i, "tags": ["a", "b"]},) for i in range(10_000)]
    collections: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    gc.callbacks.append(count)
    try:
        texts = encode_many(values, lambda value, who: "", lambda index: "")
    finally:
        gc.callbacks.remove(count)
    assert texts[9_999] == '[{"i":9999,"tags":["a","b"]}]'
    assert len(collections) <= 2, collections


def test_json_arguments_round_trip(toro_app, toro_db):
    args = ("text", 1, 2.5, True, None, [1, "two"], {"nested": {"list": [1, 2]}})
    job = Noop.perform_async(*args)
    assert job.args == [*args[:5], [1, "two"], {"nested": {"list": [1, 2]}}]
    assert scalar(toro_db, "SELECT args FROM toro_jobs WHERE id = %s", (job.id,)) == job.args


def test_misspelt_option_is_reported(toro_app, toro_db):
    class Typo(Worker):
        queu = "users"

        def perform(self) -> None:
            pass

    with pytest.raises(
        UnknownOptionError,
        match=r"Typo.queu is not a toro worker option \(did you mean 'queue'\?\)",
    ):
        Typo.perform_async()
    assert scalar(toro_db, "SELECT count(*) FROM toro_jobs") == 0


def test_helpers_with_underscores_and_methods_are_not_options(toro_app):
    class Fine(Worker):
        queue = "fine"
        _cache: dict[str, int] = {}

        def helper(self) -> int:
            return 1

        def perform(self) -> None:
            pass

    assert Fine.perform_async().queue == "fine"


def test_plugin_declares_an_option(make_app):
    class Declares:
        @hookimpl
        def worker_options(self):
            return {"priority_hint": "used by a test plugin"}

    class UsesIt(Worker):
        priority_hint = 3

        def perform(self) -> None:
            pass

    without = make_app()
    with pytest.raises(UnknownOptionError):
        without.client.enqueue(UsesIt, ())
    with_plugin = make_app(plugins=[Declares()])
    assert with_plugin.client.enqueue(UsesIt, ()).id


def test_bulk_and_async_twins(toro_app, toro_db):
    ids = Noop.perform_bulk([(i,) for i in range(1000)])
    assert ids == sorted(ids) and len(ids) == 1000
    assert Noop.perform_bulk([]) == []

    import anyio

    async def main():
        job = await Named.aperform_async(5)
        more = await Noop.aperform_bulk([(1,), (2,)])
        await toro_app.aclient.close()
        return job, more

    job, more = anyio.run(main, backend="asyncio")
    assert job.name == "user #5" and len(more) == 2
    assert scalar(toro_db, "SELECT count(*) FROM toro_jobs") == 1003


def test_async_transactional_enqueue(toro_app, toro_db):
    import anyio

    async def main():
        async with await psycopg.AsyncConnection.connect(toro_db) as conn:
            await Noop.set(connection=conn).aperform_async("x")
            await conn.rollback()
            await Noop.set(connection=conn).aperform_async("y")
            await conn.commit()

    anyio.run(main, backend="asyncio")
    assert scalar(toro_db, "SELECT array_agg(args->>0) FROM toro_jobs") == ["y"]


def test_job_name_hook_first_result_wins_over_builtin(make_app):
    class Namer:
        @hookimpl
        def job_name(self, worker_class, args):
            return f"plugin:{worker_class.__name__}:{args[0]}"

    app = make_app(plugins=[Namer()])
    assert app.client.enqueue(Named, (7,)).name == "plugin:Named:7"
    assert make_app().client.enqueue(Named, (7,)).name == "user #7"


def test_statuses_registry_and_duplicates(make_app):
    class Adds:
        @hookimpl
        def statuses(self):
            return [Status("skipped", "Skipped", "#aaaaaa", final=True)]

    class AddsToo:
        @hookimpl
        def statuses(self):
            return [Status("skipped", "Skipped too", "#bbbbbb", final=True)]

    app = make_app(plugins=[Adds()])
    assert app.statuses.names()[:4] == ["queued", "running", "complete", "failed"]
    assert app.statuses["skipped"].final
    with pytest.raises(UnknownStatusError):
        app.statuses["nope"]
    clash = make_app(plugins=[Adds(), AddsToo()])
    with pytest.raises(DuplicateStatusError, match=r"Adds.*AddsToo|AddsToo.*Adds"):
        clash.statuses  # noqa: B018
    with pytest.raises(ValueError, match="#rrggbb"):
        Status("bad", "Bad", "red", final=False)


def test_misspelt_hook_is_an_error(toro_db):
    class Misspelt:
        @hookimpl
        def around_jobs(self, execution):
            return None

    with pytest.raises(PluginError, match="around_jobs"):
        Toro(toro_db, plugins=[Misspelt()], load_entry_points=False)


def test_register_and_unregister_middleware_in_code(toro_app):
    calls = []

    class Middleware:
        @hookimpl
        def around_job(self, execution):
            @asynccontextmanager
            async def wrap():
                calls.append(execution.job.id)
                yield

            return wrap()

    plugin = Middleware()
    toro_app.register(plugin, name="mine")
    assert toro_app.plugin_manager.get_plugin("mine") is plugin
    assert toro_app.has("around_job")
    toro_app.unregister(plugin)
    assert not toro_app.has("around_job")


def test_job_enqueued_sees_bulk_jobs_inside_the_callers_transaction(make_app, toro_db):
    seen: list[list[int]] = []

    class Listener:
        @hookimpl
        def job_enqueued(self, jobs):
            seen.append([job.args[0] for job in jobs])

    app = make_app(plugins=[Listener()])
    with psycopg.connect(toro_db) as conn:
        app.client.enqueue_bulk(Noop, [(1,), (2,), (3,)], connection=conn)
        app.client.enqueue(Noop, (4,), connection=conn)
        conn.rollback()
    assert seen == [[1, 2, 3], [4]]
    assert scalar(toro_db, "SELECT count(*) FROM toro_jobs") == 0


class Greeted(Worker):
    queue = "greetings"

    @classmethod
    def job_name(cls, who: object, *more: object, **options: object) -> str:
        return f"to {who}"

    def perform(self, who: object, *more: object, **options: object) -> None:
        pass


def test_a_bulk_without_keys_writes_what_the_full_statement_writes(toro_app, toro_db):
    """A bulk with no unique key and no limit goes through insert_jobs_plain (no ON CONFLICT:
    no speculative insertion per row); it writes the same rows, answers their ids in input
    order and wakes workers the same way as insert_jobs, which keyed bulks still use."""
    from toro_core.client import bulk_params
    from toro_core.store import SyncStore, connect
    from toro_core.store.inserts import bulk_query, bulk_statement
    from toro_core.store.queries import query

    items = [(1,), Call(2, flag=True), ("x", [3])]
    statement = bulk_statement(bulk_params(toro_app, Greeted, items, priority=3))
    assert bulk_query(statement) == "insert_jobs_plain"
    assert bulk_query({**statement, "unique_keys": ["k", None, None]}) == "insert_jobs"
    assert bulk_query({**statement, "limit_keys": ["Named", "Named", "Named"]}) == "insert_jobs"
    columns = "queue, class_name, args, kwargs, name, status, scheduled_at, priority, properties, attempt, unique_key, limit_key, headers"  # noqa: E501
    written = {}
    with connect(toro_db) as listener:
        listener.execute("LISTEN toro_jobs")
        for name in ("insert_jobs", "insert_jobs_plain"):
            with connect(toro_db) as own:
                row = SyncStore(connection=own).fetch_one(query(name), statement)
            assert row is not None and row["keys"] == [] and row["keyed_ids"] == []
            ids = row["ids"]
            assert len(ids) == 3 and ids == sorted(ids)
            with connect(toro_db) as conn:
                rows = conn.execute(
                    f"SELECT {columns} FROM toro_jobs WHERE id = ANY(%s) ORDER BY id", (ids,)
                ).fetchall()
            written[name] = rows
            told = list(listener.notifies(timeout=2, stop_after=1))
            assert [(n.channel, n.payload) for n in told] == [("toro_jobs", "greetings")]
    assert written["insert_jobs_plain"] == written["insert_jobs"]
    assert [row["args"] for row in written["insert_jobs"]] == [[1], [2], ["x", [3]]]
    assert [row["kwargs"] for row in written["insert_jobs"]] == [{}, {"flag": True}, {}]
    assert [row["name"] for row in written["insert_jobs"]] == ["to 1", "to 2", "to x"]
    assert {row["priority"] for row in written["insert_jobs"]} == {3}
