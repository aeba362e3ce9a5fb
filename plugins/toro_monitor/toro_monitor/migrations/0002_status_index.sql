-- toro-monitor 0002: the (status, id) index, which the kernel no longer keeps for itself.
-- It serves the status filter and sort (newest first within a status) and the exact per-status
-- counts of the histograms. Like every index it costs each insert and status change a little;
-- it is the monitor's, so only installations with the monitor pay for it.
CREATE INDEX IF NOT EXISTS toro_monitor_jobs_status ON toro_jobs (status, id);
