-- toro-monitor 0003: the monitor's indexes leave out running jobs.
-- A row in toro_jobs is written three times on its way (enqueued, claimed, finished); each
-- write of a row that an index holds is an entry in that index. The full indexes of 0001 and
-- 0002 took all three writes; these take the enqueue and the outcome, and never the claim, so
-- the workers' claim writes only the kernel's indexes. Running jobs are at most as many as
-- the processes' slots: the monitor finds them through the kernel's index of running jobs
-- (toro_jobs_running) and merges them in (see its queries). docs/indexes.md has the figures.
--
-- The text columns are keyed in the "C" collation, which the monitor's queries name and no
-- other statement does: an index can serve a condition only in its own collation, so the
-- kernel's claim can never be planned onto these (with statistics that had not seen a burst of
-- queued jobs yet, it once walked the status index and sorted every queued job at each claim).
-- Names sort in byte order in the monitor.
--
-- On a large table, create the three indexes first with CREATE INDEX CONCURRENTLY (same
-- definitions): this migration then keeps them and only drops the old ones.
CREATE INDEX IF NOT EXISTS toro_monitor_jobs_queue_at_rest ON toro_jobs (queue COLLATE "C", id)
    WHERE status <> 'running';
CREATE INDEX IF NOT EXISTS toro_monitor_jobs_class_at_rest
    ON toro_jobs (class_name COLLATE "C", id)
    WHERE status <> 'running';
-- The status index carries the queue and the worker class (INCLUDE: in the entry, not in the
-- key), so a filter on a status and a queue and/or a class is read from this index alone
-- (an index-only scan of the status's range), whatever the size of the table: PostgreSQL does
-- not AND partial indexes that share a predicate in a bitmap.
CREATE INDEX IF NOT EXISTS toro_monitor_jobs_status_at_rest
    ON toro_jobs (status COLLATE "C", id)
    INCLUDE (queue, class_name)
    WHERE status <> 'running';
DROP INDEX IF EXISTS toro_monitor_jobs_queue;
DROP INDEX IF EXISTS toro_monitor_jobs_class;
DROP INDEX IF EXISTS toro_monitor_jobs_status;
