-- toro-core 0009: flow control. Concurrency limits per worker class, per key and per queue,
-- and rate limits, enforced by the claim statement itself across every process.

-- The limit a job counts against: its class name, or class name and key
-- (concurrency_key). NULL for jobs of classes without limits (most jobs). holds_slots is set
-- by the claim when the job took concurrency slots (its class's or its queue's).
ALTER TABLE toro_jobs
    ADD COLUMN limit_key text,
    ADD COLUMN holds_slots boolean NOT NULL DEFAULT false;

-- One row per limit: a worker class's (written at enqueue from its class attributes), a
-- key's, or a queue's (key 'queue:<name>', set with `toro-core queues limit`).
CREATE TABLE toro_limits (
    key         text        PRIMARY KEY,
    -- at most this many jobs of the key run at once (NULL: no concurrency limit)
    concurrency integer     CHECK (concurrency >= 1),
    -- at most rate starts per per_seconds (NULL: no rate limit)
    rate        integer     CHECK (rate >= 1),
    per_seconds float8      CHECK (per_seconds > 0),
    -- the starts of the last per_seconds (the rate's sliding window), kept by the claim
    starts      timestamptz[] NOT NULL DEFAULT '{}',
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- A concurrency limit of N is N slot rows; a running job holds one (job_id). The claim takes
-- free slots with FOR UPDATE SKIP LOCKED in the statement that claims, so two processes can
-- never hand out one slot twice, and nobody waits on anybody.
CREATE TABLE toro_limit_slots (
    key    text    NOT NULL,
    slot   integer NOT NULL,
    job_id bigint,
    PRIMARY KEY (key, slot)
);
CREATE INDEX toro_limit_slots_job ON toro_limit_slots (job_id) WHERE job_id IS NOT NULL;

-- A job leaving 'running' (its outcome, a requeue at shutdown, recovery after a crash) frees
-- its slots. The WHEN clause keeps jobs that hold none from ever calling the function.
CREATE FUNCTION toro_free_limit_slots() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    next_queue text;
BEGIN
    UPDATE toro_limit_slots SET job_id = NULL WHERE job_id = OLD.id;
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
CREATE TRIGGER toro_jobs_free_limit_slots
    AFTER UPDATE OF status ON toro_jobs
    FOR EACH ROW
    WHEN (OLD.status = 'running' AND NEW.status <> 'running' AND OLD.holds_slots)
    EXECUTE FUNCTION toro_free_limit_slots();

-- Jobs waiting for a concurrency slot of their limit ('blocked'), by limit and in claim order:
-- the promoter queues them again when a slot frees.
CREATE INDEX toro_jobs_blocked ON toro_jobs (limit_key, (-priority), id) WHERE status = 'blocked';
