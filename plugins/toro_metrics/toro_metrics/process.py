"""toro-metrics inside one worker process: what its hooks share, its endpoint and its service.

:func:`setup` runs in the ``worker_services`` hook, before the process registers: it builds a
:class:`ProcessMetrics` (kept in ``context.state["metrics"]``), starts the Prometheus endpoint
when a port was given (``--metrics-port``; a port that cannot be bound refuses to start the
process, in one line) and decides once whether to trace. The service it returns writes the
per-minute rollup until the process stops, then stops the endpoint and ends the spans of
attempts that never finished.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio

from toro_core import ConfigurationError
from toro_core.plugin import Store
from toro_metrics.rollup import Rollup, RollupWriter

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from prometheus_client import CollectorRegistry

    from toro_core import Execution
    from toro_core.plugin import ProcessContext
    from toro_metrics.tracing import AttemptSpans
    from toro_metrics.worker import WorkerMetrics

log = logging.getLogger("toro.metrics")
STATE_KEY = "metrics"
#: The same state, kept only when attempts have something to record (per-job series or spans):
#: otherwise ``job_started`` and ``job_finished`` find nothing there and return at once.
PER_ATTEMPT_KEY = "metrics:attempts"


def _attempt_spans() -> AttemptSpans | None:
    """Spans for this process's attempts when an OpenTelemetry SDK is configured. One that is
    configured was imported, or is named in ``OTEL_PYTHON_TRACER_PROVIDER``: otherwise the
    API is not even imported."""
    if "opentelemetry.trace" not in sys.modules and not os.environ.get(
        "OTEL_PYTHON_TRACER_PROVIDER"
    ):
        return None
    from toro_metrics.tracing import AttemptSpans, configured_tracer

    tracer = configured_tracer()
    return AttemptSpans(tracer) if tracer is not None else None


class ProcessMetrics:
    """Everything toro-metrics keeps for one worker process.

    What a process without ``--metrics-port`` and without an OpenTelemetry SDK does is the
    rollup's count, once per batch of outcomes written: prometheus_client is imported and
    per-job series are kept only when the endpoint is served, OpenTelemetry only when a
    tracer provider is set.
    """

    def __init__(self, context: ProcessContext) -> None:
        self.context = context
        #: Per (queue, worker) counters and histograms; only when the endpoint is served.
        self.metrics: WorkerMetrics | None = None
        self.registry: CollectorRegistry | None = None
        self.rollup = Rollup()
        self.spans = _attempt_spans()
        self.server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ the hooks' work

    def started(self, execution: Execution) -> None:
        if self.metrics is not None:
            self.metrics.started(execution.job)
        if self.spans is not None:
            self.spans.started(execution)

    def finished(self, execution: Execution) -> None:
        if self.metrics is not None:
            outcome = execution.outcome
            status = outcome.status if outcome is not None else "failed"
            self.metrics.finished(execution.job, status, execution.duration)
        if self.spans is not None:
            self.spans.finished(execution)

    # ------------------------------------------------------------------ the endpoint

    def serve(self, host: str, port: int) -> None:
        """Serve the process's metrics at ``http://host:port/metrics`` from a thread of its
        own; from now on each attempt is counted in its (queue, worker) series."""
        from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
        from prometheus_client.exposition import start_http_server

        from toro_metrics.worker import WorkerMetrics

        metrics = WorkerMetrics(self.context.stats)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(metrics)
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        try:
            self.server, self._thread = start_http_server(port, addr=host, registry=registry)
        except OSError as exc:
            raise ConfigurationError(
                f"--metrics-port {port}: cannot serve metrics on {host}:{port} ({exc.strerror})"
            ) from None
        self.metrics, self.registry = metrics, registry
        log.info("metrics at http://%s:%d/metrics", host, self.server.server_port)

    def stop_serving(self) -> None:
        if self.server is not None:
            server, self.server = self.server, None
            server.shutdown()
            server.server_close()

    # ------------------------------------------------------------------ the service

    async def run(self) -> None:
        writer = RollupWriter(self.rollup, Store(self.context.pool))
        try:
            await writer.run()
        finally:
            if self.spans is not None:
                self.spans.close_all()
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self.stop_serving)


def setup(context: ProcessContext) -> list[Callable[[], Awaitable[Any]]]:
    """Build the process's metrics (see the module docstring); return the service."""
    state = ProcessMetrics(context)
    options = context.settings.plugin_options
    port = options.get("metrics_port")
    if port is not None:
        state.serve(str(options.get("metrics_host") or "0.0.0.0"), int(port))
    context.state[STATE_KEY] = state
    if state.metrics is not None or state.spans is not None:
        context.state[PER_ATTEMPT_KEY] = state
    return [state.run]
