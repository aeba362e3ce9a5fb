"""The metrics of one worker process: per-job counters and histograms, and the process's numbers.

One :class:`WorkerMetrics` per worker process (kept in ``context.state["metrics"]``). The
``job_started`` and ``job_finished`` hooks call :meth:`WorkerMetrics.started` and
:meth:`WorkerMetrics.finished`: each finds the job's :class:`Series` (one per queue and worker
class, made once and cached) and adds to plain numbers, no lock and no prometheus_client object
on the way. The collector (:meth:`WorkerMetrics.collect`) turns them into Prometheus samples
when the endpoint is scraped, with the process's live numbers read from ``context.stats``.

Label values are bounded: queue names and worker class names only (never ids or arguments),
and at most ``max_series`` pairs of them; jobs of further pairs are counted under
``queue="_other", worker="_other"`` (a warning says so once).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from toro_metrics.buckets import DURATION_BOUNDS, WAIT_BOUNDS, Buckets

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from toro_core import Job
    from toro_core.plugin import ProcessStats

log = logging.getLogger("toro.metrics")
#: Label value of the series that takes jobs beyond ``max_series`` distinct (queue, worker).
OTHER = "_other"
MAX_SERIES = 500


class Series:
    """What one (queue, worker class) pair has done in this process."""

    __slots__ = ("duration", "finished", "queue", "started", "wait", "worker")

    def __init__(self, queue: str, worker: str) -> None:
        self.queue = queue
        self.worker = worker
        self.started = 0
        #: Finished attempts by outcome status.
        self.finished: dict[str, int] = {}
        self.duration = Buckets(DURATION_BOUNDS)
        self.wait = Buckets(WAIT_BOUNDS)


def wait_seconds(job: Job) -> float | None:
    """Seconds from the job's due time (``scheduled_at``, else ``created_at``) to the start of
    this attempt, both by the database's clock; ``None`` before it started."""
    started = job.started_at
    if started is None:
        return None
    due = job.scheduled_at or job.created_at
    return max(0.0, (started - due).total_seconds())


class WorkerMetrics(Collector):
    """See the module docstring. Register it in a ``CollectorRegistry`` to serve it."""

    def __init__(self, stats: ProcessStats, *, max_series: int = MAX_SERIES) -> None:
        self.stats = stats
        self.max_series = max_series
        self.series: dict[tuple[str, str], Series] = {}
        self._overflowed = False

    def series_for(self, job: Job) -> Series:
        key = (job.queue, job.class_name)
        found = self.series.get(key)
        if found is None:
            found = self._add_series(key)
        return found

    def _add_series(self, key: tuple[str, str]) -> Series:
        if len(self.series) >= self.max_series:
            if not self._overflowed:
                self._overflowed = True
                log.warning(
                    "more than %d (queue, worker) pairs: further ones are counted under "
                    "queue=%r, worker=%r",
                    self.max_series,
                    OTHER,
                    OTHER,
                )
            other = self.series.get((OTHER, OTHER))
            if other is None:
                other = self.series[(OTHER, OTHER)] = Series(OTHER, OTHER)
            if len(self.series) < 10 * self.max_series:
                self.series[key] = other  # later jobs of this pair find it at once
            return other
        found = self.series[key] = Series(*key)
        return found

    # ------------------------------------------------------------------ the hot path

    def started(self, job: Job) -> None:
        """An attempt of ``job`` starts."""
        series = self.series_for(job)
        series.started += 1
        wait = wait_seconds(job)
        if wait is not None:
            series.wait.observe(wait)

    def finished(self, job: Job, status: str, duration: float) -> None:
        """An attempt of ``job`` ended with outcome ``status`` after ``duration`` seconds."""
        series = self.series_for(job)
        finished = series.finished
        finished[status] = finished.get(status, 0) + 1
        series.duration.observe(duration)

    # ------------------------------------------------------------------ scraping

    def collect(self) -> Iterator[Metric]:
        started = CounterMetricFamily(
            "toro_jobs_started", "Attempts started.", labels=["queue", "worker"]
        )
        finished = CounterMetricFamily(
            "toro_jobs_finished",
            "Attempts finished, by outcome status.",
            labels=["queue", "worker", "status"],
        )
        duration = HistogramMetricFamily(
            "toro_job_duration_seconds", "Run time of attempts.", labels=["queue", "worker"]
        )
        wait = HistogramMetricFamily(
            "toro_job_wait_seconds",
            "Time from a job's due time (scheduled_at, else created_at) to an attempt's start.",
            labels=["queue", "worker"],
        )
        for series in list({id(s): s for s in list(self.series.values())}.values()):
            labels = [series.queue, series.worker]
            started.add_metric(labels, series.started)
            for status, count in list(series.finished.items()):
                finished.add_metric([*labels, status], count)
            duration.add_metric(labels, series.duration.cumulative(), series.duration.total)
            wait.add_metric(labels, series.wait.cumulative(), series.wait.total)
        yield from (started, finished, duration, wait)
        yield from self._process_metrics()

    def _process_metrics(self) -> Iterator[Metric]:
        stats = self.stats
        yield GaugeMetricFamily("toro_worker_slots", "Slots (concurrency).", stats.concurrency)
        yield GaugeMetricFamily(
            "toro_worker_slots_busy", "Slots running a claimed job now.", stats.busy
        )
        yield GaugeMetricFamily(
            "toro_worker_outcomes_pending",
            "Finished attempts whose outcome is not written yet.",
            stats.pending_outcomes,
        )
        counters = (
            ("toro_worker_jobs_claimed", "Jobs claimed.", stats.claimed),
            (
                "toro_worker_jobs_given_back",
                "Jobs claimed ahead of the slots and given back unstarted.",
                stats.given_back,
            ),
            (
                "toro_worker_claim_errors",
                "Claims that failed (database unusable).",
                stats.claim_errors,
            ),
            ("toro_worker_outcomes_written", "Outcomes written.", stats.outcomes_written),
            (
                "toro_worker_outcomes_refused",
                "Outcomes refused: the job was recovered by another process.",
                stats.outcomes_refused,
            ),
            (
                "toro_worker_database_reconnects",
                "Database connections found broken and replaced.",
                stats.reconnects,
            ),
        )
        for name, text, value in counters:
            yield CounterMetricFamily(name, text, value)
