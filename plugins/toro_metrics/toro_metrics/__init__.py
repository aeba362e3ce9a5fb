"""toro-metrics: Prometheus metrics, OpenTelemetry traces and the monitor's Overview page."""
