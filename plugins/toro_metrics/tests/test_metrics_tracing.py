"""toro-metrics' traces: with the OpenTelemetry SDK and an in-memory exporter in the enqueuing
process and in the worker process, every attempt's span is a child of the span that enqueued
the job (the W3C trace context travels in the job's headers, bulk enqueues included), carries
the job's attributes, and records the exception of a failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import toro_metrics.plugin as metrics_plugin
from metrics_tracing import Traced

from toro_core.testing import as_default, rows, scalar, wait_for

HERE = Path(__file__).parent

ENQUEUE = """
import metrics_tracing as m
from toro_core import Toro
from toro_core.app import set_default_app
set_default_app(Toro())
with m.tracer.start_as_current_span("request"):
    m.Traced.perform_async(1)
    m.TracedSync.perform_bulk([(2,), (3,)])
    m.TracedFails.perform_async(4)
m.Traced.perform_async(5)  # outside any span: no headers
"""


def test_attempt_spans_are_children_of_the_enqueue_span(toro_db, start_worker, tmp_path):
    enqueued, worked = tmp_path / "enqueue.json", tmp_path / "worker.json"
    env = dict(os.environ)
    env.update(
        TORO_DATABASE_URL=toro_db,
        TORO_PLUGINS="metrics",
        TRACE_DUMP=str(enqueued),
        PYTHONPATH=os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]),
    )
    subprocess.run([sys.executable, "-c", ENQUEUE], env=env, check=True, timeout=60)
    (request,) = json.loads(enqueued.read_text())
    assert request["name"] == "request"

    headers = dict(rows(toro_db, "SELECT id, headers FROM toro_jobs ORDER BY id"))
    assert headers[5] is None
    for job_id in (1, 2, 3, 4):  # the bulk's two jobs too
        traceparent = headers[job_id]["traceparent"]
        assert traceparent.startswith(f"00-{request['trace_id']}-{request['span_id']}-")

    worker = start_worker(
        "-r", "metrics_tracing", "-q", "traced", plugins=["metrics"],
        env={"TRACE_DUMP": str(worked)},
    )  # fmt: skip
    wait_for(lambda: scalar(toro_db, "SELECT count(*) FROM toro_jobs WHERE locked_by IS NULL "
                                     "AND status IN ('complete', 'failed')") == 5)  # fmt: skip
    assert worker.stop() == 0
    spans = json.loads(worked.read_text())
    attempts = {s["attributes"]["toro.job.id"]: s for s in spans if s["kind"] == "CONSUMER"}
    assert sorted(attempts) == [1, 2, 3, 4, 5]
    classes = dict(rows(toro_db, "SELECT id, class_name FROM toro_jobs"))
    for job_id, span in attempts.items():
        assert span["name"] == classes[job_id]
        assert span["attributes"]["toro.queue"] == "traced"
        assert span["attributes"]["toro.job.attempt"] == 1
        assert span["attributes"]["toro.worker"] == classes[job_id]
        assert span["attributes"]["messaging.system"] == "toro"
        if job_id == 5:
            assert span["parent_id"] is None and span["trace_id"] != request["trace_id"]
        else:
            assert span["trace_id"] == request["trace_id"]
            assert span["parent_id"] == request["span_id"]

    for job_id in (1, 2, 3, 5):
        assert attempts[job_id]["attributes"]["toro.job.status"] == "complete"
        assert attempts[job_id]["status"] == "UNSET" and not attempts[job_id]["events"]
    failed = attempts[4]
    assert failed["attributes"]["toro.job.status"] == "failed"
    assert failed["status"] == "ERROR"
    (event,) = failed["events"]
    assert event["name"] == "exception"
    assert event["attributes"]["exception.type"] == "ValueError"
    assert event["attributes"]["exception.message"] == "traced failure 4"
    assert "Traceback" in event["attributes"]["exception.stacktrace"]

    # spans made inside perform (async, and sync in a thread) are children of the attempt's
    inside = {s["name"]: s for s in spans if s["name"].startswith("inside")}
    for n in (1, 2, 3, 5):
        assert inside[f"inside {n}"]["parent_id"] == attempts[n]["span_id"]


def test_no_sdk_no_headers(make_app, toro_db):
    """Without a configured tracer provider nothing is stored and no span is made."""
    with as_default(make_app(plugins=[metrics_plugin])) as app:
        Traced.perform_async(1)
        Traced.perform_bulk([(2,), (3,)])
        assert app.has("job_headers")
    assert scalar(toro_db, "SELECT count(*) FROM toro_jobs WHERE headers IS NOT NULL") == 0
    assert scalar(toro_db, "SELECT count(*) FROM toro_jobs") == 3
