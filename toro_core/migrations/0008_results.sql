-- toro-core 0008: results. What perform returned (when it is JSON) is kept with the job, and a
-- caller can wait for a job's outcome (app.wait) without polling.

ALTER TABLE toro_jobs
    -- perform's return value (NULL when it returned None, or a value JSON cannot hold: then
    -- properties->>'result:rejected' says why)
    ADD COLUMN result jsonb,
    -- when someone began waiting for the job's outcome (app.wait, app.await_result): the
    -- outcome write then sends a NOTIFY on channel toro_finished_<id>. NULL for every job
    -- nobody waits for, so outcomes of those send nothing.
    ADD COLUMN awaited_at timestamptz;
