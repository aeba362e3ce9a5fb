-- A freed slot of a queue's limit wakes that queue's workers at once. Jobs of a limited queue
-- stay queued while the limit is full, and every process serving the queue sleeps until a
-- notification or its poll; the process that frees a slot claims again by itself, but one
-- that stops, or the recovery of a dead process's jobs, left the others waiting for their
-- poll. Only jobs that held slots pay for this (the trigger's WHEN), and only a queue slot
-- sends the NOTIFY.
CREATE OR REPLACE FUNCTION toro_free_limit_slots() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    next_queue text;
    freed_queue_slot boolean;
BEGIN
    WITH freed AS (
        UPDATE toro_limit_slots SET job_id = NULL WHERE job_id = OLD.id RETURNING key
    )
    SELECT coalesce(bool_or(key = 'queue:' || OLD.queue), false) INTO freed_queue_slot
      FROM freed;
    IF freed_queue_slot THEN
        PERFORM pg_notify('toro_jobs', OLD.queue);
    END IF;
    -- hand the slot on at once: the next job blocked on this limit is queued and its queue's
    -- workers woken (the promoter does the same for any left over)
    IF OLD.limit_key IS NOT NULL THEN
        UPDATE toro_jobs SET status = 'queued'
         WHERE id = (SELECT id FROM toro_jobs
                      WHERE status = 'blocked' AND limit_key = OLD.limit_key
                      ORDER BY -priority, id LIMIT 1
                        FOR UPDATE SKIP LOCKED)
        RETURNING queue INTO next_queue;
        IF next_queue IS NOT NULL THEN
            PERFORM pg_notify('toro_jobs', next_queue);
        END IF;
    END IF;
    RETURN NULL;
END;
$$;
