-- toro-monitor 0004: one index instead of three.
-- Every index whose predicate a row's new version matches takes an entry at each write of the
-- row; the three indexes of 0003 took three entries when a job was enqueued and three more
-- when it finished, which cost about a tenth of a worker's no-op throughput (docs/indexes.md).
-- This one takes one entry at each. Its key leads with the status, then the queue and the
-- worker class, then the id: the jobs of one (status, queue, class) are a range in id order.
-- The monitor reads it through emulated skip scans: it first finds the distinct (status,
-- queue, class) present (one descent of the index each, a few hundred at most in practice),
-- then reads each one's newest jobs and merges them (see its queries). A filter on a status
-- (the most used) is a range of the index; counts per status are ranges too.
--
-- Same collation and predicate as 0003 (running jobs are left out: the claim writes no
-- monitor entry; the monitor reads running jobs through the kernel's toro_jobs_running).
--
-- On a large table, create this index first with CREATE INDEX CONCURRENTLY (same definition):
-- this migration then keeps it and only drops the old ones.
CREATE INDEX IF NOT EXISTS toro_monitor_jobs_at_rest
    ON toro_jobs (status COLLATE "C", queue COLLATE "C", class_name COLLATE "C", id)
    WHERE status <> 'running';
DROP INDEX IF EXISTS toro_monitor_jobs_queue_at_rest;
DROP INDEX IF EXISTS toro_monitor_jobs_class_at_rest;
DROP INDEX IF EXISTS toro_monitor_jobs_status_at_rest;
