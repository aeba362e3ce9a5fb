-- toro-scheduler 0001: periodic schedules with their ticks.

-- (Before the kernel owned scheduled jobs, this migration created their index; toro-core's
-- migration 0003 creates it now, and runs first.)
CREATE INDEX IF NOT EXISTS toro_jobs_scheduled ON toro_jobs (scheduled_at)
    WHERE status = 'scheduled';

-- The periodic schedules that worker processes declare, as they last described them; lets the
-- CLI and the monitor list schedules without importing the application's code.
CREATE TABLE toro_schedules (
    -- the worker class name (toro_jobs.class_name of the jobs it enqueues)
    name       text        PRIMARY KEY,
    queue      text        NOT NULL,
    -- 'cron' (expression is the cron text) or 'interval' (expression is seconds)
    kind       text        NOT NULL CHECK (kind IN ('cron', 'interval')),
    expression text        NOT NULL,
    timezone   text        NOT NULL DEFAULT 'UTC',
    -- seconds back that ticks missed while no worker ran are still enqueued
    catch_up   float8      NOT NULL,
    args       jsonb       NOT NULL DEFAULT '[]',
    seen_at    timestamptz NOT NULL DEFAULT now(),
    seen_by    text
);

-- One row per tick of a schedule that was enqueued. The primary key is what makes each tick
-- enqueued exactly once: every process inserts the tick with ON CONFLICT DO NOTHING in the
-- transaction that inserts its job, and only the one whose insert took the key adds the job.
CREATE TABLE toro_schedule_ticks (
    schedule    text        NOT NULL,
    tick_at     timestamptz NOT NULL,
    job_id      bigint,
    enqueued_at timestamptz NOT NULL DEFAULT now(),
    enqueued_by text,
    PRIMARY KEY (schedule, tick_at)
);
