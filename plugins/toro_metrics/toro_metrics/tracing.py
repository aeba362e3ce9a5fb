"""OpenTelemetry traces: one span per attempt, a child of the span that enqueued the job.

At enqueue (the ``job_headers`` hook) the current trace context is written into the job's
``headers`` with the configured propagator (W3C ``traceparent``/``tracestate`` by default), once
per enqueue call, bulk included. When no span is current, because no SDK is configured or the
code enqueues outside any span, nothing is stored.

In the worker, :class:`AttemptSpans` starts a span when an attempt starts (``job_started``) and
ends it when the attempt's outcome is decided (``job_finished``). The span is named after the
worker class, is of kind ``CONSUMER``, has the enqueue context from the headers as its parent
(a job without headers starts a trace of its own), and is the current span while ``perform``
runs, so spans the job makes are its children. It carries ``toro.queue``, ``toro.job.id``,
``toro.job.attempt``, ``toro.worker`` and, at the end, ``toro.job.status`` (plus the messaging
conventions' ``messaging.system``, ``messaging.destination.name``, ``messaging.message.id``); a
failed attempt records its exception and an error status.

Whether to trace is decided once, when the worker process starts: with no tracer provider set
(only the API installed, or an SDK not configured yet) the worker never touches OpenTelemetry
per job. Configure the SDK before the process starts (in a module given to ``-r``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

if TYPE_CHECKING:
    from toro_core import Execution

#: Instrumentation scope of the spans.
SCOPE = "toro_metrics"


def enqueue_headers() -> dict[str, str] | None:
    """The current trace context as headers, or ``None`` when no valid span is current."""
    if not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier or None


def configured_tracer() -> trace.Tracer | None:
    """A tracer of the configured SDK, or ``None`` when no tracer provider was set."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider)):
        return None
    return provider.get_tracer(SCOPE)


class AttemptSpans:
    """The spans of the attempts running in one worker process; see the module docstring."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self.tracer = tracer
        #: Open spans by ``id(execution)``, with the token that made each one current.
        self._open: dict[int, tuple[trace.Span, Any]] = {}

    def started(self, execution: Execution) -> None:
        job = execution.job
        # an explicit parent: never a span left current in this task by an earlier attempt
        parent = propagate.extract(job.headers) if job.headers else otel_context.Context()
        span = self.tracer.start_span(
            job.class_name,
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes={
                "toro.queue": job.queue,
                "toro.job.id": job.id,
                "toro.job.attempt": job.attempt,
                "toro.worker": job.class_name,
                "messaging.system": "toro",
                "messaging.destination.name": job.queue,
                "messaging.message.id": str(job.id),
            },
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        stale = self._open.pop(id(execution), None)
        if stale is not None:  # an attempt cut off before it finished (never in practice)
            stale[0].end()
        self._open[id(execution)] = (span, token)

    def finished(self, execution: Execution) -> None:
        entry = self._open.pop(id(execution), None)
        if entry is None:
            return
        span, token = entry
        outcome = execution.outcome
        span.set_attribute("toro.job.status", outcome.status if outcome else "failed")
        error = execution.error
        if error is not None:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        span.end()
        otel_context.detach(token)

    def close_all(self) -> None:
        """End the spans of attempts that never finished here (cancelled by a stop, or stopped
        because the process was declared dead), marked ``toro.job.status="interrupted"``."""
        while self._open:
            _, (span, _token) = self._open.popitem()
            span.set_attribute("toro.job.status", "interrupted")
            span.end()
