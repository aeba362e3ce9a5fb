-- toro-core 0003: jobs that wait for their time (status 'scheduled') belong to the kernel.
-- The promoter of every worker process walks due jobs in time order; the index holds only
-- scheduled rows, so it stays as small as the number of jobs waiting. (Databases migrated
-- before this moved out of toro-scheduler have it already, under the same name.)
CREATE INDEX IF NOT EXISTS toro_jobs_scheduled ON toro_jobs (scheduled_at)
    WHERE status = 'scheduled';
