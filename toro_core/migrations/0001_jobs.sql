-- toro-core 0001: the jobs table and its indexes.
CREATE TABLE toro_jobs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue        text        NOT NULL DEFAULT 'default',
    class_name   text        NOT NULL,
    args         jsonb       NOT NULL DEFAULT '[]',
    name         text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    scheduled_at timestamptz,
    started_at   timestamptz,
    finished_at  timestamptz,
    status       text        NOT NULL DEFAULT 'queued',
    started_by   text,
    properties   jsonb       NOT NULL DEFAULT '{}',
    -- how many times a worker has claimed the job; with locked_by it is the fencing token
    attempt      integer     NOT NULL DEFAULT 0,
    -- the toro_processes.id of the process holding the job while it runs
    locked_by    uuid,
    CONSTRAINT toro_jobs_args_is_array CHECK (jsonb_typeof(args) = 'array'),
    CONSTRAINT toro_jobs_properties_is_object CHECK (jsonb_typeof(properties) = 'object')
);

-- The claim walks this index in id order per queue; it holds only queued rows, so finished
-- history never makes a claim slower.
CREATE INDEX toro_jobs_queued ON toro_jobs (queue, id) WHERE status = 'queued';
-- Recovery and the process table look up running jobs by holder.
CREATE INDEX toro_jobs_running ON toro_jobs (locked_by) WHERE status = 'running';
