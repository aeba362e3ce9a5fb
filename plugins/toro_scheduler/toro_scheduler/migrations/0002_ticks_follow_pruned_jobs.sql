-- toro-scheduler 0002: a tick whose job is deleted (pruned, or by hand) forgets the job id.
-- The tick row itself stays: it is where a process that starts later resumes the schedule
-- (its latest tick), so deleting it would enqueue missed ticks again. A foreign key with
-- ON DELETE SET NULL would do the same at the cost of one lookup per deleted job; this
-- statement-level trigger makes one join per DELETE statement instead (a prune batch of
-- thousands of jobs), and costs inserts and updates of toro_jobs nothing.

-- Ticks written before this migration whose job is gone already.
UPDATE toro_schedule_ticks AS t
   SET job_id = NULL
 WHERE t.job_id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM toro_jobs AS j WHERE j.id = t.job_id);

CREATE FUNCTION toro_schedule_ticks_unlink() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE toro_schedule_ticks AS t
       SET job_id = NULL
     WHERE t.job_id IN (SELECT d.id FROM toro_deleted_jobs AS d);
    RETURN NULL;
END;
$$;

CREATE TRIGGER toro_jobs_unlink_schedule_ticks
    AFTER DELETE ON toro_jobs
    REFERENCING OLD TABLE AS toro_deleted_jobs
    FOR EACH STATEMENT
    EXECUTE FUNCTION toro_schedule_ticks_unlink();
