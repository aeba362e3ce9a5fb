-- toro-monitor 0001: indexes for filtering and sorting the jobs list by queue and by worker.
-- Each index costs every insert and every status change a little, so the monitor adds only
-- these (and (status, id) in 0002); other sorts are done among the newest jobs (README).
CREATE INDEX IF NOT EXISTS toro_monitor_jobs_queue ON toro_jobs (queue, id);
CREATE INDEX IF NOT EXISTS toro_monitor_jobs_class ON toro_jobs (class_name, id);

-- Worker classes usually keep to one queue, so the planner's guess for a filter on queue, class
-- and status together is far off unless it knows how the columns go together; with a wrong
-- guess it walks the whole primary key looking for rows that are not there. Extended
-- statistics cost nothing on writes (they are gathered by ANALYZE).
CREATE STATISTICS IF NOT EXISTS toro_monitor_jobs_stats (mcv, dependencies)
    ON queue, class_name, status FROM toro_jobs;
