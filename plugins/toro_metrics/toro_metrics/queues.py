"""Queue metrics computed from the table, cheap on any size: the monitor's ``/metrics`` and
``toro-core metrics``.

What a :class:`QueueSnapshot` holds and how each number is found:

* jobs per queue and status. On a small table (the planner's estimate up to
  :data:`EXACT_ROWS`) every job is counted. On a large one the waiting and running jobs are
  counted through the kernel's partial indexes, which hold only those rows: queued jobs up to
  :data:`COUNT_CAP` per queue (past that, the planner's estimate), running jobs exactly (never
  more than the processes' slots), scheduled and blocked ones up to the cap; the finished statuses
  (complete, failed, ...) are estimated from a fixed sample of about :data:`SAMPLE_BLOCKS`
  table blocks. Estimated counts are flagged (``toro_queue_counts_exact`` is 0).
* the age of the oldest queued job per queue: now minus the earliest due time
  (``scheduled_at``, else ``created_at``) among the next :data:`HEAD` jobs in line;
* the live processes, their slots and busy slots (the process registry).

Nothing here walks the whole table on a large one, so Prometheus may scrape every 15 s.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from toro_core.plugin import CoreStore, Store, load_queries

if TYPE_CHECKING:
    import psycopg
    from prometheus_client.metrics_core import Metric

#: Up to this many rows (the planner's estimate), every job is counted.
EXACT_ROWS = 100_000
#: Queued (and scheduled) jobs are counted up to this many per queue; past it, estimated.
COUNT_CAP = 10_000
#: Blocks of the table read to estimate finished statuses on a large table (8 kB each).
SAMPLE_BLOCKS = 2_000
#: Jobs in line looked at for the oldest due time of a queue.
HEAD = 100
#: Most queues reported.
MAX_QUEUES = 1_000
#: Statuses counted through the kernel's partial indexes on a large table (queued and running
#: by :func:`depth`, the others up to the cap).
CAPPED = ("scheduled", "blocked")
ACTIVE = ("queued", "running", *CAPPED)
#: Content type of the Prometheus text format.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def q(name: str) -> str:
    return load_queries("toro_metrics")[name]


@dataclasses.dataclass(frozen=True, slots=True)
class QueueSnapshot:
    """The queue metrics at one moment; see the module docstring."""

    #: ``{(queue, status): jobs}``.
    counts: dict[tuple[str, str], int]
    #: Whether every count is exact (else some are estimates).
    exact: bool
    #: ``{queue: seconds}``: age of the oldest queued job, for queues with queued jobs.
    oldest_age: dict[str, float]
    processes: int
    slots: int
    busy: int
    #: Seconds the snapshot took to compute.
    seconds: float


async def snapshot(conn: psycopg.AsyncConnection[Any]) -> QueueSnapshot:
    """The queue metrics now, read on ``conn``; see the module docstring."""
    began = time.perf_counter()
    store = Store(connection=conn)
    size = (await store.fetch_all(q("table_size")))[0]
    rows = int(size["rows"]) if int(size["rows"]) >= 0 else int(size["max_id"] or 0)
    exact = True
    counts: dict[tuple[str, str], int] = {}
    ages: dict[str, float] = {}
    if rows <= EXACT_ROWS:
        for row in await store.fetch_all(q("count_all")):
            counts[(row["queue"], row["status"])] = int(row["jobs"])
        queues = sorted({queue for queue, status in counts if status == "queued"})[:MAX_QUEUES]
        heads = await _heads(store, queues, cap=1)
        ages = {queue: age for queue, (_, age) in heads.items() if age is not None}
    else:
        for line in await depth(conn):
            if line.queued:
                counts[(line.queue, "queued")] = line.queued
            if line.running:
                counts[(line.queue, "running")] = line.running
            if line.oldest_age is not None:
                ages[line.queue] = line.oldest_age
            exact = exact and line.exact
        for status in CAPPED:
            exact = await _capped(store, status, counts) and exact
        percent = min(100.0, max(0.01, 100.0 * SAMPLE_BLOCKS / max(1, int(size["pages"]))))
        sampled = await store.fetch_all(
            q("count_sampled"), {"percent": percent, "exclude": list(ACTIVE)}
        )
        for row in sampled:
            if round(float(row["jobs"])):
                counts[(row["queue"], row["status"])] = round(float(row["jobs"]))
        exact = exact and percent >= 100.0
    processes = await CoreStore(connection=conn).processes()
    return QueueSnapshot(
        counts=counts,
        exact=exact,
        oldest_age=ages,
        processes=len(processes),
        slots=sum(int(p["concurrency"]) for p in processes),
        # a process may hold a few jobs claimed ahead of its slots: they take no slot yet
        busy=sum(min(len(p["running"]), p["concurrency"]) for p in processes),
        seconds=time.perf_counter() - began,
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Depth:
    """The jobs of one queue that wait or run now."""

    queue: str
    queued: int
    #: Whether ``queued`` was counted (else it is the planner's estimate, above the cap).
    exact: bool
    running: int
    #: Seconds since the due time of the oldest queued job, ``None`` when none is queued.
    oldest_age: float | None


async def depth(conn: psycopg.AsyncConnection[Any]) -> list[Depth]:
    """Queued and running jobs per queue, through the kernel's partial indexes only (cheap on
    any table size), queues with queued jobs first then the others that run jobs, by name."""
    store = Store(connection=conn)
    found = await store.fetch_all(q("queued_queues"), {"limit": MAX_QUEUES})
    heads = await _heads(store, [r["queue"] for r in found], cap=COUNT_CAP)
    running = {r["queue"]: int(r["jobs"]) for r in await store.fetch_all(q("running_per_queue"))}
    result = []
    for queue, (jobs, age) in sorted(heads.items()):
        exact = jobs < COUNT_CAP
        if not exact:
            jobs = max(jobs, await _estimate(store, "estimate_queued", {"queue": queue}))
        result.append(Depth(queue, jobs, exact, running.get(queue, 0), age))
    for queue in sorted(set(running) - set(heads)):
        result.append(Depth(queue, 0, True, running[queue], None))
    return result


async def _capped(store: Store, status: str, counts: dict[tuple[str, str], int]) -> bool:
    """Jobs in ``status`` per queue into ``counts``, looking at :data:`COUNT_CAP` of them at
    most (past that, spread over queues as the first ones are); whether they were counted."""
    rows = await store.fetch_all(q("capped_per_queue"), {"status": status, "cap": COUNT_CAP})
    total = sum(int(r["jobs"]) for r in rows)
    scale = 1.0
    if total >= COUNT_CAP:
        estimate = await _estimate(store, "estimate_status", {"status": status})
        scale = max(estimate, total) / total
    for row in rows:
        counts[(row["queue"], status)] = round(int(row["jobs"]) * scale)
    return total < COUNT_CAP


async def _heads(
    store: Store, queues: list[str], *, cap: int
) -> dict[str, tuple[int, float | None]]:
    """``{queue: (queued jobs counted up to cap, age in seconds of the oldest in line)}``."""
    if not queues:
        return {}
    rows = await store.fetch_all(q("queued_depth"), {"queues": queues, "cap": cap, "head": HEAD})
    heads = {}
    for row in rows:
        due = row["oldest_due"]
        age = max(0.0, (row["now"] - due).total_seconds()) if due is not None else None
        heads[row["queue"]] = (int(row["jobs"]), age)
    return heads


async def _estimate(store: Store, name: str, params: dict[str, Any]) -> int:
    plan = await store.fetch_all(q(name), params)
    return int(plan[0]["QUERY PLAN"][0]["Plan"]["Plan Rows"])


class SnapshotCollector(Collector):
    """Prometheus families of one :class:`QueueSnapshot`."""

    def __init__(self, snap: QueueSnapshot) -> None:
        self.snap = snap

    def collect(self) -> Iterator[Metric]:
        snap = self.snap
        jobs = GaugeMetricFamily(
            "toro_queue_jobs",
            "Jobs per queue and status (estimates on large tables: see toro_queue_counts_exact).",
            labels=["queue", "status"],
        )
        for (queue, status), count in sorted(snap.counts.items()):
            jobs.add_metric([queue, status], count)
        yield jobs
        yield GaugeMetricFamily(
            "toro_queue_counts_exact",
            "1 when every toro_queue_jobs value was counted, 0 when some are estimates.",
            1 if snap.exact else 0,
        )
        oldest = GaugeMetricFamily(
            "toro_queue_oldest_job_age_seconds",
            "Age of the oldest queued job (now minus its due time), per queue with queued jobs.",
            labels=["queue"],
        )
        for queue, age in sorted(snap.oldest_age.items()):
            oldest.add_metric([queue], age)
        yield oldest
        yield GaugeMetricFamily(
            "toro_processes", "Worker processes in the registry.", snap.processes
        )
        yield GaugeMetricFamily(
            "toro_processes_slots", "Slots of the registered processes.", snap.slots
        )
        yield GaugeMetricFamily(
            "toro_processes_slots_busy", "Jobs running in the registered processes.", snap.busy
        )
        yield GaugeMetricFamily(
            "toro_queue_metrics_seconds", "Seconds these queue metrics took.", snap.seconds
        )


def render(snap: QueueSnapshot) -> str:
    """``snap`` in the Prometheus text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snap))
    return generate_latest(registry).decode()


async def render_metrics(conn: psycopg.AsyncConnection[Any]) -> str:
    """The queue metrics now, as Prometheus text (the monitor's ``/metrics``)."""
    return render(await snapshot(conn))


def metrics_endpoint() -> Any:
    """The monitor endpoint serving :func:`render_metrics` at ``/metrics``."""
    from toro_monitor.view import MonitorEndpoint

    return MonitorEndpoint(path="/metrics", render=render_metrics, media_type=CONTENT_TYPE)
