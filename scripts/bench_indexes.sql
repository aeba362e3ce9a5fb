-- What-if index layouts for scripts/bench.py (configurations users-async-*): each block runs
-- after the configuration's database is migrated with every plugin, and replaces the monitor's
-- three indexes of toro_jobs (toro-monitor 0003) by another layout, to measure what the
-- monitor's indexes cost the hot path. None of them is a layout the monitor can use as it is:
-- its queries are written for the three indexes. docs/indexes.md quotes the figures.

-- name: no_monitor_indexes
-- The monitor's indexes dropped: the kernel's indexes alone, with every plugin loaded.
DROP INDEX toro_monitor_jobs_queue_at_rest;
DROP INDEX toro_monitor_jobs_class_at_rest;
DROP INDEX toro_monitor_jobs_status_at_rest;

-- name: one_monitor_index
-- One composite index in their place, as a monitor reading it with emulated skip scans
-- (per queue, status and worker class) would need: one entry per write instead of three.
DROP INDEX toro_monitor_jobs_queue_at_rest;
DROP INDEX toro_monitor_jobs_class_at_rest;
DROP INDEX toro_monitor_jobs_status_at_rest;
CREATE INDEX toro_monitor_jobs_one ON toro_jobs
    (queue COLLATE "C", status COLLATE "C", class_name COLLATE "C", id)
    WHERE status <> 'running';

-- name: monitor_indexes_without_queued
-- The three indexes leaving queued jobs out as well as running ones: an enqueue writes none
-- of them (the finish still writes all three).
DROP INDEX toro_monitor_jobs_queue_at_rest;
DROP INDEX toro_monitor_jobs_class_at_rest;
DROP INDEX toro_monitor_jobs_status_at_rest;
CREATE INDEX toro_monitor_jobs_queue_at_rest ON toro_jobs (queue COLLATE "C", id)
    WHERE status NOT IN ('running', 'queued');
CREATE INDEX toro_monitor_jobs_class_at_rest ON toro_jobs (class_name COLLATE "C", id)
    WHERE status NOT IN ('running', 'queued');
CREATE INDEX toro_monitor_jobs_status_at_rest ON toro_jobs (status COLLATE "C", id)
    INCLUDE (queue, class_name) WHERE status NOT IN ('running', 'queued');
