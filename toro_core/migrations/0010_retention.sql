-- toro-core 0010: retention. Finished jobs are deleted once older than their status's retention
-- (the pruner of every worker process, and `toro-core prune`); docs/indexes.md has the why.

-- The prune walks the finished jobs of one status oldest first, from a keyset cursor
-- (finished_at, id), in batches. The index leaves out the statuses of jobs still on their way
-- (queued, scheduled, running, blocked): a job gets its one entry when it finishes, and no
-- claim or status change on the hot path ever writes to it. A plugin's status is in it, so a
-- plugin's final status is pruned as cheaply. IF NOT EXISTS: on a large table, create it
-- first with CREATE INDEX CONCURRENTLY (same definition) and this migration keeps it.
CREATE INDEX IF NOT EXISTS toro_jobs_finished ON toro_jobs (status, finished_at, id)
    WHERE status NOT IN ('queued', 'running', 'scheduled', 'blocked');

-- Vacuum sooner than PostgreSQL's default (a fifth of the table dead): with a long history the
-- default lets millions of dead row versions pile up between two vacuums (every job leaves two:
-- its queued and its running version), and the partial indexes of queued and running jobs fill
-- with dead entries that claims and cancel polls walk. Analyse sooner too, so that the
-- monitor's planner knows how the statuses are spread after a prune. Storage parameters take
-- effect at once and rewrite nothing.
ALTER TABLE toro_jobs SET (
    autovacuum_vacuum_scale_factor = 0.05,
    autovacuum_vacuum_insert_scale_factor = 0.05,
    autovacuum_analyze_scale_factor = 0.02
);
