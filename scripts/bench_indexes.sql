-- What-if index layouts for scripts/bench.py (configuration users-async-bare): each block runs
-- after the configuration's database is migrated with every plugin, to measure what the
-- monitor's index of toro_jobs (toro-monitor 0004) costs the hot path. The monitor cannot work
-- on a large table without it. docs/indexes.md quotes the figures.

-- name: no_monitor_index
-- The monitor's index dropped: the kernel's indexes alone, with every plugin loaded.
DROP INDEX toro_monitor_jobs_at_rest;
