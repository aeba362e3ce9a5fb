-- toro-core 0007: job control. Keyword arguments, priorities, unique jobs, cancellation
-- requests, and the queues table (pause and resume).

ALTER TABLE toro_jobs
    -- perform's keyword arguments, beside the positional ones in args
    ADD COLUMN kwargs jsonb NOT NULL DEFAULT '{}'
        CONSTRAINT toro_jobs_kwargs_is_object CHECK (jsonb_typeof(kwargs) = 'object'),
    -- -100..100, larger runs first (the range and direction of Django's Tasks)
    ADD COLUMN priority smallint NOT NULL DEFAULT 0
        CONSTRAINT toro_jobs_priority_range CHECK (priority BETWEEN -100 AND 100),
    -- set for unique jobs: no two jobs with one key wait or run at the same time
    ADD COLUMN unique_key text,
    -- when someone asked to cancel the job while it ran; the holder stops it and the outcome
    -- write turns it into 'cancelled'
    ADD COLUMN cancel_requested_at timestamptz;

-- The claim walks queued jobs per queue, highest priority first, then oldest; its keyset
-- cursor is (-priority, id). Like the index it replaces it holds only queued rows, so finished
-- history never makes a claim slower.
CREATE INDEX toro_jobs_queued_by_priority ON toro_jobs (queue, (-priority), id)
    WHERE status = 'queued';
DROP INDEX toro_jobs_queued;

-- One key among the jobs that wait or run; a finished job frees its key. ('blocked' is a job
-- waiting for a concurrency slot: see migration 0009.)
CREATE UNIQUE INDEX toro_jobs_unique_key ON toro_jobs (unique_key)
    WHERE unique_key IS NOT NULL AND status IN ('queued', 'scheduled', 'running', 'blocked');

-- What is known about a queue besides its jobs: whether it is paused (every process stops
-- claiming from it within a claim; its jobs stay queued).
CREATE TABLE toro_queues (
    name       text        PRIMARY KEY,
    paused_at  timestamptz,
    paused_by  text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
