"""Workers of the tracing tests, and an OpenTelemetry SDK with an in-memory exporter.

Imported with ``$TRACE_DUMP`` set (by a worker process through ``-r``, or by the enqueuing
script), the module installs the SDK as the global tracer provider and writes every finished
span to that file as JSON when the process exits.
"""

from __future__ import annotations

import atexit
import json
import os
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from toro_core import Worker

EXPORTER = InMemorySpanExporter()
tracer = trace.get_tracer("tests")


def as_dict(span: ReadableSpan) -> dict[str, Any]:
    context = span.get_span_context()
    assert context is not None
    return {
        "name": span.name,
        "trace_id": f"{context.trace_id:032x}",
        "span_id": f"{context.span_id:016x}",
        "parent_id": f"{span.parent.span_id:016x}" if span.parent else None,
        "kind": span.kind.name,
        "attributes": dict(span.attributes or {}),
        "status": span.status.status_code.name,
        "events": [{"name": e.name, "attributes": dict(e.attributes or {})} for e in span.events],
    }


def dump(path: str) -> None:
    with open(path, "w") as out:
        json.dump([as_dict(span) for span in EXPORTER.get_finished_spans()], out)


if os.environ.get("TRACE_DUMP"):
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
    trace.set_tracer_provider(provider)
    atexit.register(dump, os.environ["TRACE_DUMP"])


class Traced(Worker):
    queue = "traced"

    async def perform(self, n: int) -> None:
        with tracer.start_as_current_span(f"inside {n}"):
            pass


class TracedSync(Worker):
    queue = "traced"

    def perform(self, n: int) -> None:
        with tracer.start_as_current_span(f"inside {n}"):
            pass


class TracedFails(Worker):
    queue = "traced"

    async def perform(self, n: int) -> None:
        raise ValueError(f"traced failure {n}")
