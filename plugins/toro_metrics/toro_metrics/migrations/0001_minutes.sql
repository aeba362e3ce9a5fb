-- toro-metrics 0001: finished attempts per minute, queue and outcome status.
-- Every worker process with toro-metrics adds what it finished every few seconds (an upsert per
-- flush, not per job), so the counts outlive the jobs when they are pruned. The monitor's
-- Overview page reads its charts, throughput and wait percentiles from here: a day is at most
-- 1,440 rows per queue and status, whatever the size of toro_jobs.
CREATE TABLE IF NOT EXISTS toro_metrics_minutes (
    -- start of the minute in which the attempts finished (the database clock's finished_at)
    minute       timestamptz NOT NULL,
    queue        text        NOT NULL,
    -- the attempt's outcome: complete, failed, or a plugin's (scheduled for a retry...)
    status       text        NOT NULL,
    jobs         bigint      NOT NULL,
    -- sums of the attempts' run times and waits (due time to start), in seconds
    duration_sum float8      NOT NULL,
    wait_sum     float8      NOT NULL,
    -- attempts per wait bucket (toro_metrics.buckets.WAIT_BOUNDS, then +Inf)
    wait_counts  bigint[]    NOT NULL,
    PRIMARY KEY (minute, queue, status)
);
