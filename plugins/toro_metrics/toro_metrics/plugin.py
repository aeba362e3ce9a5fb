"""Hook implementations of toro-metrics (entry point ``metrics`` in group ``toro``).

* ``start_options``: ``--metrics-port`` and ``--metrics-host`` for ``toro-core start``.
* ``worker_services``: the process's metrics, endpoint, spans and rollup writer
  (:mod:`.process`).
* ``outcomes_written``: the per-minute rollup counts each batch of outcomes written.
* ``job_started``, ``job_finished``: the per-job Prometheus series and spans, when the endpoint
  is served or a tracer is configured (nothing else).
* ``job_headers``: the trace context of the enqueuing code, stored with the job.
* ``migrations``: the per-minute rollup table; ``cli_commands``: ``toro-core metrics``.
* ``monitor_views``, ``monitor_endpoints`` (optional: only where toro-monitor is installed): the
  Overview page and the queue metrics at the monitor's ``/metrics``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from toro_core import Execution, MigrationSource, WrittenOutcome, hookimpl
from toro_metrics.process import PER_ATTEMPT_KEY, STATE_KEY, setup

if TYPE_CHECKING:
    from toro_core import Worker
    from toro_core.plugin import ProcessContext, StartOptions


def port(text: str) -> int:
    """A TCP port, 0 (any free one) to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)")
    return value


port.__name__ = "a port number"


@hookimpl
def start_options(options: StartOptions) -> None:
    options.add(
        "--metrics-port",
        type=port,
        metavar="PORT",
        help="serve this process's Prometheus metrics at http://HOST:PORT/metrics (0: any port)",
    )
    options.add(
        "--metrics-host",
        default="0.0.0.0",
        metavar="HOST",
        help="address the metrics endpoint listens on",
    )


@hookimpl
def worker_services(context: ProcessContext) -> list[Any]:
    return setup(context)


@hookimpl
def job_started(execution: Execution) -> None:
    process = execution.process
    if process is not None:
        state = process.state.get(PER_ATTEMPT_KEY)
        if state is not None:
            state.started(execution)


@hookimpl
def job_finished(execution: Execution) -> None:
    process = execution.process
    if process is not None:
        state = process.state.get(PER_ATTEMPT_KEY)
        if state is not None:
            state.finished(execution)


@hookimpl
def outcomes_written(context: ProcessContext, outcomes: Sequence[WrittenOutcome]) -> None:
    state = context.state.get(STATE_KEY)
    if state is not None:
        state.rollup.add(outcomes)


@hookimpl
def job_headers(worker_class: type[Worker]) -> dict[str, str] | None:
    if "opentelemetry.trace" not in sys.modules:
        return None  # no span can be current where OpenTelemetry was never imported
    from toro_metrics.tracing import enqueue_headers

    return enqueue_headers()


@hookimpl
def migrations() -> MigrationSource:
    return MigrationSource(owner="metrics", package="toro_metrics.migrations")


@hookimpl
def cli_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from toro_metrics.cli import add_command

    add_command(subparsers)


@hookimpl(optionalhook=True)
def monitor_views() -> Iterable[Any]:
    from toro_metrics.overview import overview_view

    return [overview_view()]


@hookimpl(optionalhook=True)
def monitor_endpoints() -> Iterable[Any]:
    from toro_metrics.queues import metrics_endpoint

    return [metrics_endpoint()]
