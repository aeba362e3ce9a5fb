-- toro-monitor 0001: indexes for filtering and sorting the jobs list by queue and by worker.
-- Each index costs every insert and every status change a little, so the monitor adds only
-- these two; sorts on other columns are done among the newest jobs (see the README).
CREATE INDEX IF NOT EXISTS toro_monitor_jobs_queue ON toro_jobs (queue, id);
CREATE INDEX IF NOT EXISTS toro_monitor_jobs_class ON toro_jobs (class_name, id);
