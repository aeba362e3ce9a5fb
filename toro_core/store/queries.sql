-- toro-core's queries. Each block starts with "-- name:"; parameters are %(name)s.

-- name: insert_job
-- Inserts one job and returns it. A queued job wakes idle workers of its queue with a NOTIFY
-- (delivered when the inserting transaction commits); workers also poll, so a row inserted
-- by other means is picked up all the same. A job of a limited class records the class's
-- limit and its slots (toro_limits, toro_limit_slots) on the way.
WITH limit_row AS (
    -- a limited job's limit, as its class declares it now (nothing for other jobs)
    INSERT INTO toro_limits (key, concurrency, rate, per_seconds)
    SELECT %(limit_key)s, %(concurrency)s, %(rate)s, %(per_seconds)s
     WHERE %(limit_key)s::text IS NOT NULL
    ON CONFLICT (key) DO UPDATE
       SET concurrency = excluded.concurrency, rate = excluded.rate,
           per_seconds = excluded.per_seconds, updated_at = now()
     WHERE (toro_limits.concurrency, toro_limits.rate, toro_limits.per_seconds)
           IS DISTINCT FROM (excluded.concurrency, excluded.rate, excluded.per_seconds)
    RETURNING key
), limit_slots AS (
    INSERT INTO toro_limit_slots (key, slot)
    SELECT %(limit_key)s, g FROM generate_series(0, COALESCE(%(concurrency)s::int, 0) - 1) AS g
     WHERE %(limit_key)s::text IS NOT NULL
    ON CONFLICT DO NOTHING
), inserted AS (
    INSERT INTO toro_jobs (queue, class_name, args, kwargs, name, status, scheduled_at,
                           properties, priority, unique_key, limit_key, headers)
    VALUES (%(queue)s, %(class_name)s, %(args)s::jsonb, %(kwargs)s::jsonb, %(name)s, %(status)s,
            %(scheduled_at)s, %(properties)s::jsonb, %(priority)s, %(unique_key)s, %(limit_key)s,
            %(headers)s::jsonb)
    ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL
                                AND status IN ('queued', 'scheduled', 'running', 'blocked')
    DO NOTHING
    RETURNING id, queue, class_name, args, name, created_at, scheduled_at, started_at,
              finished_at, status, started_by, properties, attempt, kwargs, priority,
              unique_key, cancel_requested_at, limit_key, holds_slots, headers
)
SELECT i.*
  FROM inserted AS i
  LEFT JOIN LATERAL (SELECT pg_notify('toro_jobs', i.queue) WHERE i.status = 'queued') AS woken
    ON true;

-- name: insert_job_plain
-- insert_job for a job with no unique key and no limit (most jobs): the same row and wake-up,
-- without the steps those need.
WITH inserted AS (
    INSERT INTO toro_jobs (queue, class_name, args, kwargs, name, status, scheduled_at,
                           properties, priority, headers)
    VALUES (%(queue)s, %(class_name)s, %(args)s::jsonb, %(kwargs)s::jsonb, %(name)s, %(status)s,
            %(scheduled_at)s, %(properties)s::jsonb, %(priority)s, %(headers)s::jsonb)
    RETURNING id, queue, class_name, args, name, created_at, scheduled_at, started_at,
              finished_at, status, started_by, properties, attempt, kwargs, priority,
              unique_key, cancel_requested_at, limit_key, holds_slots, headers
)
SELECT i.*
  FROM inserted AS i
  LEFT JOIN LATERAL (SELECT pg_notify('toro_jobs', i.queue) WHERE i.status = 'queued') AS woken
    ON true;

-- name: find_unique
-- The job that holds unique key %(unique_key)s now (queued, scheduled or running), if any:
-- what an enqueue of a duplicate returns.
SELECT id, queue, class_name, args, name, created_at, scheduled_at, started_at, finished_at,
       status, started_by, properties, attempt, kwargs, priority, unique_key,
       cancel_requested_at, limit_key, holds_slots, headers
  FROM toro_jobs
 WHERE unique_key = %(unique_key)s AND status IN ('queued', 'scheduled', 'running', 'blocked');

-- name: find_unique_ids
-- For each of the keys %(keys)s, the id of the job holding it now (NULL when none does).
SELECT k.key, t.id
  FROM unnest(%(keys)s::text[]) AS k(key)
  LEFT JOIN toro_jobs AS t
    ON t.unique_key = k.key AND t.status IN ('queued', 'scheduled', 'running', 'blocked');

-- name: insert_jobs
-- Inserts many jobs of one worker class in one statement and returns one row: the ids written,
-- in input order (one array, not a row per job), and the unique keys written with their ids;
-- one NOTIFY for the statement when they are queued. %(args)s is one JSON array of the
-- jobs' argument arrays, %(kwargs)s one of their keyword objects or NULL when none has any;
-- a text array left empty (no job has a name, a unique key, a limit key) reads as NULLs. A unique job whose key another
-- waiting or running job holds is not written (ON CONFLICT); the caller finds that job's id.
WITH limit_rows AS (
    INSERT INTO toro_limits (key, concurrency, rate, per_seconds)
    SELECT DISTINCT k.key, %(concurrency)s::int, %(rate)s::int, %(per_seconds)s::float8
      FROM unnest(%(limit_keys)s::text[]) AS k(key)
     WHERE k.key IS NOT NULL
    ON CONFLICT (key) DO UPDATE
       SET concurrency = excluded.concurrency, rate = excluded.rate,
           per_seconds = excluded.per_seconds, updated_at = now()
     WHERE (toro_limits.concurrency, toro_limits.rate, toro_limits.per_seconds)
           IS DISTINCT FROM (excluded.concurrency, excluded.rate, excluded.per_seconds)
    RETURNING key
), limit_slots AS (
    INSERT INTO toro_limit_slots (key, slot)
    SELECT DISTINCT k.key, g
      FROM unnest(%(limit_keys)s::text[]) AS k(key),
           generate_series(0, COALESCE(%(concurrency)s::int, 0) - 1) AS g
     WHERE k.key IS NOT NULL
    ON CONFLICT DO NOTHING
), inserted AS (
    INSERT INTO toro_jobs (queue, class_name, args, kwargs, name, status, scheduled_at,
                           priority, unique_key, limit_key, headers)
    SELECT %(queue)s, %(class_name)s, u.args, COALESCE(u.kwargs, '{}'), u.name, %(status)s,
           %(scheduled_at)s, %(priority)s, u.unique_key, u.limit_key, %(headers)s::jsonb
      FROM ROWS FROM (jsonb_array_elements(%(args)s::jsonb),
                      jsonb_array_elements(%(kwargs)s::jsonb),
                      unnest(%(names)s::text[]), unnest(%(unique_keys)s::text[]),
                      unnest(%(limit_keys)s::text[]))
           WITH ORDINALITY AS u(args, kwargs, name, unique_key, limit_key, ord)
     ORDER BY u.ord
    ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL
                                AND status IN ('queued', 'scheduled', 'running', 'blocked')
    DO NOTHING
    RETURNING id, unique_key
), woken AS (
    SELECT pg_notify('toro_jobs', %(queue)s) WHERE %(status)s = 'queued'
)
SELECT COALESCE(array_agg(id ORDER BY id), '{}') AS ids,
       COALESCE(array_agg(unique_key ORDER BY id) FILTER (WHERE unique_key IS NOT NULL), '{}')
           AS keys,
       COALESCE(array_agg(id ORDER BY id) FILTER (WHERE unique_key IS NOT NULL), '{}')
           AS keyed_ids
  FROM inserted
 WHERE (SELECT count(*) FROM woken) >= 0;

-- name: insert_jobs_plain
-- insert_jobs for jobs with no unique key and no limit (most bulk enqueues): the same rows, ids
-- and wake-up, without the limits' steps and without ON CONFLICT, which makes every row a
-- speculative insertion (a WAL record more per row, and a lock taken and released) even when
-- no row has a key. %(names)s is an empty array when no job has a name.
WITH inserted AS (
    INSERT INTO toro_jobs (queue, class_name, args, kwargs, name, status, scheduled_at,
                           priority, headers)
    SELECT %(queue)s, %(class_name)s, u.args, COALESCE(u.kwargs, '{}'), u.name, %(status)s,
           %(scheduled_at)s, %(priority)s, %(headers)s::jsonb
      FROM ROWS FROM (jsonb_array_elements(%(args)s::jsonb),
                      jsonb_array_elements(%(kwargs)s::jsonb),
                      unnest(%(names)s::text[]))
           WITH ORDINALITY AS u(args, kwargs, name, ord)
     ORDER BY u.ord
    RETURNING id
), woken AS (
    SELECT pg_notify('toro_jobs', %(queue)s) WHERE %(status)s = 'queued'
)
SELECT COALESCE(array_agg(id ORDER BY id), '{}') AS ids, '{}'::text[] AS keys,
       '{}'::bigint[] AS keyed_ids
  FROM inserted
 WHERE (SELECT count(*) FROM woken) >= 0;

-- name: claim_jobs_plain
-- claim_jobs for the common case, where no limit is in play: the jobs it would take are all
-- of classes without limits, in queues without a limit of their own. Then it claims them
-- (same order, cursor, paused queues, registration check and %(relaxed)s as claim_jobs),
-- without any of the limits' steps. When a limit is in play, it claims nothing and returns
-- one row whose id is NULL: the caller then runs claim_jobs, which knows the limits.
-- {per_queue} is not a parameter: the store writes a number in (%(limit)s itself up to 16,
-- else the next power of two), one statement text per value. With every LIMIT a parameter,
-- PostgreSQL re-plans this statement at every claim (its generic plan is costed for an
-- unknown LIMIT), and planning was half of a claim's server time; with the per-queue LIMIT a
-- literal, it settles on the generic plan after five claims.
WITH served AS (
    SELECT q.name
      FROM unnest(%(queues)s::text[]) AS q(name)
     WHERE EXISTS (SELECT 1 FROM toro_processes WHERE id = %(owner)s)
       AND NOT EXISTS (SELECT 1 FROM toro_queues AS p
                        WHERE p.name = q.name AND p.paused_at IS NOT NULL)
       AND CASE WHEN %(relaxed)s::boolean
                THEN set_config('synchronous_commit', 'off', true) IS NOT NULL ELSE true END
), candidates AS (
    SELECT j.id, j.priority, j.limit_key
      FROM served AS s
     CROSS JOIN LATERAL (
           SELECT id, priority, limit_key FROM toro_jobs
            WHERE status = 'queued' AND queue = s.name
              AND (-priority, id) > (%(after_rank)s, %(after)s)
            ORDER BY -priority, id
            LIMIT {per_queue}
              FOR UPDATE SKIP LOCKED) AS j
), limited AS (
    SELECT EXISTS (SELECT 1 FROM candidates WHERE limit_key IS NOT NULL)
        OR EXISTS (SELECT 1 FROM toro_limits AS l
                    WHERE l.key IN (SELECT 'queue:' || name FROM served)
                      AND l.concurrency IS NOT NULL) AS yes
), picked AS (
    SELECT c.id
      FROM candidates AS c, limited
     WHERE NOT limited.yes
     ORDER BY -c.priority, c.id
     LIMIT %(limit)s
), claimed AS (
    UPDATE toro_jobs AS t
       SET status = 'running', started_at = now(), finished_at = NULL,
           started_by = %(started_by)s, locked_by = %(owner)s, attempt = t.attempt + 1,
           holds_slots = false
      FROM picked
     WHERE t.id = picked.id
    RETURNING t.id, t.queue, t.class_name, t.args::text AS args, t.name, t.created_at,
              t.scheduled_at, t.started_at, t.finished_at, t.status, t.started_by,
              t.properties::text AS properties, t.attempt, t.kwargs::text AS kwargs,
              t.priority, t.unique_key, t.cancel_requested_at, t.limit_key, t.holds_slots,
              t.headers::text AS headers
)
SELECT * FROM claimed
UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL, NULL
  FROM limited
 WHERE limited.yes;

-- name: claim_jobs
-- Claims up to %(limit)s queued jobs of the given queues for process %(owner)s: highest
-- priority first, then oldest, across all the queues, within the limits.
--
-- * Each queue is walked in its own index range (toro_jobs_queued_by_priority) from the
--   keyset cursor (%(after_rank)s, %(after)s), the (-priority, id) of the last job this
--   process claimed, so dead index entries of jobs claimed earlier are not walked again.
--   Paused queues (toro_queues) are skipped.
-- * Limits (toro_limits): a job of a concurrency limit (its class's, its key's, its queue's
--   'queue:<name>') is claimed only with a free slot of each (toro_limit_slots, taken FOR
--   UPDATE SKIP LOCKED here, freed by a trigger when it stops running); a rate-limited one only
--   while its window has room (the limit row is locked, in key order, to count and log the
--   starts). A limited job that cannot run now is parked, so it does not stand in front of
--   the others: 'blocked' until a slot of its limit frees (the promoter queues it again), or
--   'scheduled' for when its rate has room. Jobs without limits skip all of this.
-- * Nothing is claimed when the process is no longer registered (it was declared dead).
-- * args, kwargs and properties come back as JSON text: the worker reads each job's on its
--   own, so one row it cannot read fails alone instead of failing the whole batch.
-- * %(relaxed)s true turns synchronous_commit off for this statement's own transaction only
--   (set_config local), so its commit does not wait for the WAL flush: for connections that
--   cannot keep a session SET (PgBouncer in transaction mode). A worker's direct connections
--   pass false (their sessions were SET once when opened), which the planner folds away.
WITH served AS (
    SELECT q.name, (l.key IS NOT NULL) AS limited
      FROM unnest(%(queues)s::text[]) AS q(name)
      LEFT JOIN toro_limits AS l ON l.key = 'queue:' || q.name AND l.concurrency IS NOT NULL
     WHERE EXISTS (SELECT 1 FROM toro_processes WHERE id = %(owner)s)
       AND NOT EXISTS (SELECT 1 FROM toro_queues AS p
                        WHERE p.name = q.name AND p.paused_at IS NOT NULL)
       -- false: folded away by the planner; true: run for each queue served
       AND CASE WHEN %(relaxed)s::boolean
                THEN set_config('synchronous_commit', 'off', true) IS NOT NULL ELSE true END
), candidates AS (
    SELECT j.id, j.priority, j.queue, j.limit_key, s.limited AS queue_limited
      FROM served AS s
     CROSS JOIN LATERAL (
           SELECT id, priority, queue, limit_key FROM toro_jobs
            WHERE status = 'queued' AND queue = s.name
              AND (-priority, id) > (%(after_rank)s, %(after)s)
            ORDER BY -priority, id
            LIMIT %(limit)s
              FOR UPDATE SKIP LOCKED) AS j
), keys AS (
    SELECT limit_key AS key FROM candidates WHERE limit_key IS NOT NULL
    UNION
    SELECT 'queue:' || queue FROM candidates WHERE queue_limited
), limits AS (
    -- locked in key order: claims of one limit take turns, and never deadlock
    SELECT l.key, l.concurrency, l.rate, l.per_seconds, l.starts
      FROM toro_limits AS l
     WHERE l.key IN (SELECT key FROM keys) AND l.rate IS NOT NULL
     ORDER BY l.key
       FOR UPDATE
), free AS (
    SELECT s.key, s.slot
      FROM toro_limit_slots AS s
      JOIN toro_limits AS l ON l.key = s.key
     WHERE s.key IN (SELECT key FROM keys) AND s.job_id IS NULL AND s.slot < l.concurrency
       FOR UPDATE OF s SKIP LOCKED
), room AS (
    -- how many jobs of each limit may start now (NULL: no limit of that kind)
    SELECT k.key,
           CASE WHEN l.concurrency IS NULL THEN NULL
                ELSE (SELECT count(*) FROM free AS f WHERE f.key = k.key) END AS slots,
           CASE WHEN r.key IS NULL THEN NULL
                ELSE r.rate - (SELECT count(*) FROM unnest(r.starts) AS t(at)
                                WHERE t.at >= now() - make_interval(secs => r.per_seconds))
           END AS starts,
           (SELECT min(t.at) FROM unnest(r.starts) AS t(at)
             WHERE t.at >= now() - make_interval(secs => r.per_seconds)) AS oldest_start,
           r.per_seconds, r.rate
      FROM keys AS k
      JOIN toro_limits AS l ON l.key = k.key
      LEFT JOIN limits AS r ON r.key = k.key
), ranked AS (
    SELECT c.id, c.priority, c.queue, c.limit_key,
           row_number() OVER (PARTITION BY c.limit_key ORDER BY -c.priority, c.id) AS key_rank,
           row_number() OVER (PARTITION BY c.queue ORDER BY -c.priority, c.id) AS queue_rank,
           LEAST(kr.slots, kr.starts) AS key_room, kr.slots AS key_slots, kr.starts AS key_starts,
           kr.oldest_start, kr.per_seconds, kr.rate,
           CASE WHEN c.queue_limited THEN qr.slots END AS queue_room
      FROM candidates AS c
      LEFT JOIN room AS kr ON kr.key = c.limit_key
      LEFT JOIN room AS qr ON qr.key = 'queue:' || c.queue
), chosen AS (
    SELECT r.id, r.priority, r.queue, r.limit_key,
           row_number() OVER (PARTITION BY r.limit_key ORDER BY -r.priority, r.id) AS key_slot,
           row_number() OVER (PARTITION BY r.queue ORDER BY -r.priority, r.id) AS queue_slot,
           r.key_slots IS NOT NULL AS takes_key_slot, r.queue_room IS NOT NULL AS takes_queue_slot
      FROM ranked AS r
     WHERE (r.key_room IS NULL OR r.key_rank <= r.key_room)
       AND (r.queue_room IS NULL OR r.queue_rank <= r.queue_room)
     ORDER BY -r.priority, r.id
     LIMIT %(limit)s
), numbered AS (
    SELECT f.key, f.slot, row_number() OVER (PARTITION BY f.key ORDER BY f.slot) AS n FROM free AS f
), taken AS (
    UPDATE toro_limit_slots AS s
       SET job_id = c.id
      FROM chosen AS c, numbered AS f
     WHERE s.key = f.key AND s.slot = f.slot
       AND ((c.takes_key_slot AND f.key = c.limit_key AND f.n = c.key_slot)
            OR (c.takes_queue_slot AND f.key = 'queue:' || c.queue AND f.n = c.queue_slot))
    RETURNING s.job_id
), logged AS (
    UPDATE toro_limits AS l
       -- two windows are kept: a claim that began earlier but took the lock later counts
       -- from its own start, and must still see these
       SET starts = ARRAY(SELECT t.at FROM unnest(l.starts) AS t(at)
                           WHERE t.at >= now() - make_interval(secs => 2 * l.per_seconds))
                    || array_fill(now(), ARRAY[c.n::int])
      FROM (SELECT limit_key, count(*) AS n FROM chosen WHERE limit_key IS NOT NULL
             GROUP BY limit_key) AS c
     WHERE l.key = c.limit_key AND l.key IN (SELECT key FROM limits)
    RETURNING l.key
), parked AS (
    -- limited jobs that cannot run now: 'scheduled' for when their rate has room, else
    -- 'blocked' until a slot of their limit frees
    UPDATE toro_jobs AS t
       SET status = CASE WHEN r.key_starts IS NOT NULL AND r.key_rank > r.key_starts
                         THEN 'scheduled' ELSE 'blocked' END,
           -- the k-th job past the room waits for the k-th window after the oldest start
           scheduled_at = CASE WHEN r.key_starts IS NOT NULL AND r.key_rank > r.key_starts
                               THEN COALESCE(r.oldest_start, now()) + make_interval(
                                   secs => r.per_seconds * (1 + (r.key_rank - r.key_starts - 1)
                                                                / r.rate))
                               ELSE t.scheduled_at END
      FROM ranked AS r
     WHERE t.id = r.id AND r.limit_key IS NOT NULL AND r.key_rank > r.key_room
       AND r.id NOT IN (SELECT id FROM chosen)
    RETURNING t.id
)
UPDATE toro_jobs AS t
   SET status = 'running', started_at = now(), finished_at = NULL,
       started_by = %(started_by)s, locked_by = %(owner)s, attempt = t.attempt + 1,
       holds_slots = t.id IN (SELECT job_id FROM taken)
  FROM chosen
 WHERE t.id = chosen.id
RETURNING t.id, t.queue, t.class_name, t.args::text AS args, t.name, t.created_at,
          t.scheduled_at, t.started_at, t.finished_at, t.status, t.started_by,
          t.properties::text AS properties, t.attempt, t.kwargs::text AS kwargs, t.priority,
          t.unique_key, t.cancel_requested_at, t.limit_key, t.holds_slots,
          t.headers::text AS headers;

-- name: finish_jobs_plain
-- finish_jobs for the common case: outcomes of one status with no properties to merge, no
-- new scheduled_at and no result (fewer arrays to send and join). Fenced, notifying and
-- relaxed (%(relaxed)s) the same way.
WITH finished AS (
    UPDATE toro_jobs AS t
       SET status = CASE WHEN t.cancel_requested_at IS NOT NULL AND %(status)s <> 'complete'
                         THEN 'cancelled' ELSE %(status)s END,
           finished_at = t.started_at + make_interval(secs => o.duration),
           locked_by = NULL
      FROM unnest(%(ids)s::bigint[], %(attempts)s::int[], %(durations)s::float8[])
           AS o(id, attempt, duration)
     WHERE t.id = o.id AND t.attempt = o.attempt AND t.locked_by = %(owner)s
       AND t.status = 'running'
       AND CASE WHEN %(relaxed)s::boolean
                THEN set_config('synchronous_commit', 'off', true) IS NOT NULL ELSE true END
    RETURNING t.id, t.status, t.awaited_at
)
SELECT f.id
  FROM finished AS f
  LEFT JOIN LATERAL (SELECT pg_notify('toro_finished_' || f.id, f.status)
                      WHERE f.awaited_at IS NOT NULL) AS told ON true;

-- name: finish_jobs
-- Writes the outcomes of finished attempts in one statement. An outcome is written only while
-- the job is still running under the same fencing token (holder and attempt); the ids written
-- are returned, so the caller can tell which outcomes were refused. A job someone asked to
-- cancel while it ran ends 'cancelled' whatever the attempt decided (a retry, a snooze, a
-- failure), unless it completed: what a job finished stays finished. A result (perform's
-- return value) is stored when the attempt returned one; an attempt that returned nothing
-- leaves the column as it was. A job someone waits for (awaited_at, set by await_job) gets a
-- NOTIFY on toro_finished_<id> with its new status; the others send nothing. %(relaxed)s as
-- in claim_jobs.
WITH finished AS (
    UPDATE toro_jobs AS t
       SET status = CASE WHEN t.cancel_requested_at IS NOT NULL AND o.status <> 'complete'
                         THEN 'cancelled' ELSE o.status END,
           finished_at = t.started_at + make_interval(secs => o.duration),
           scheduled_at = COALESCE(o.scheduled_at, t.scheduled_at),
           properties = t.properties || o.patch,
           result = COALESCE(o.result, t.result),
           locked_by = NULL
      FROM unnest(%(ids)s::bigint[], %(attempts)s::int[], %(statuses)s::text[],
                  %(durations)s::float8[], %(scheduled)s::timestamptz[], %(patches)s::jsonb[],
                  %(results)s::jsonb[])
           AS o(id, attempt, status, duration, scheduled_at, patch, result)
     WHERE t.id = o.id AND t.attempt = o.attempt AND t.locked_by = %(owner)s
       AND t.status = 'running'
       AND CASE WHEN %(relaxed)s::boolean
                THEN set_config('synchronous_commit', 'off', true) IS NOT NULL ELSE true END
    RETURNING t.id, t.status, t.awaited_at
)
SELECT f.id
  FROM finished AS f
  LEFT JOIN LATERAL (SELECT pg_notify('toro_finished_' || f.id, f.status)
                      WHERE f.awaited_at IS NOT NULL) AS told ON true;

-- name: outcomes_written_before
-- Of outcomes refused when a batch was written again after a broken connection, the ones the
-- first try did write: the row has their attempt and status and no holder. (A recovered job
-- is queued; a claim by another process raises the attempt.)
SELECT t.id
  FROM unnest(%(ids)s::bigint[], %(attempts)s::int[], %(statuses)s::text[])
       AS o(id, attempt, status)
  JOIN toro_jobs AS t ON t.id = o.id
 WHERE t.attempt = o.attempt AND t.status = o.status AND t.locked_by IS NULL;

-- name: requeue_jobs
-- Puts jobs this process holds back to queued (graceful shutdown), keeping their attempt
-- count; fenced like finish_jobs. A job someone asked to cancel ends cancelled instead.
WITH requeued AS (
    UPDATE toro_jobs AS t
       SET status = CASE WHEN t.cancel_requested_at IS NULL THEN 'queued' ELSE 'cancelled' END,
           finished_at = CASE WHEN t.cancel_requested_at IS NULL THEN NULL ELSE now() END,
           locked_by = NULL, started_at = NULL, started_by = NULL,
           properties = t.properties || jsonb_build_object(
               'requeued:at', now(), 'requeued:by', %(started_by)s::text)
     WHERE t.id = ANY(%(ids)s::bigint[]) AND t.locked_by = %(owner)s AND t.status = 'running'
    RETURNING t.id, t.queue
), woken AS (
    SELECT pg_notify('toro_jobs', queue) FROM (SELECT DISTINCT queue FROM requeued) AS q
)
SELECT id FROM requeued, (SELECT count(*) FROM woken) AS w;

-- name: register_process
-- Adds this worker process to the registry.
INSERT INTO toro_processes (id, host, pid, queues, concurrency, meta)
VALUES (%(id)s, %(host)s, %(pid)s, %(queues)s, %(concurrency)s, %(meta)s::jsonb);

-- name: heartbeat
-- Marks the process alive; no row back means it was declared dead and removed.
UPDATE toro_processes SET heartbeat_at = now() WHERE id = %(id)s RETURNING id;

-- name: deregister_process
-- Removes the process on a clean exit.
DELETE FROM toro_processes WHERE id = %(id)s;

-- name: recover_jobs
-- Removes processes whose heartbeat is older than %(dead_after)s seconds and puts every
-- running job that no live process holds back to queued (cancelled, when a cancel was asked),
-- keeping its attempt count and recording when and from which process it was recovered:
-- "recovered:count" counts the processes that died under it, "recovered:processes" lists
-- their started_by. A job whose worker died under it %(max_recoveries)s times (this one
-- included) is not queued again: it ends failed, with an error naming those processes (a job
-- that crashes or exhausts its worker would otherwise kill every worker in turn, forever).
-- Safe to run from many processes: the candidates are locked first (and re-read once free),
-- so one of them recovers each job. A job whose holder is simply missing (removed by an
-- earlier run while it was claiming, or gone after a clean exit that could not write
-- everything) must have started before this statement: a job claimed meanwhile by a process
-- registered after this statement's snapshot would otherwise look orphaned when a concurrent
-- recovery makes PostgreSQL re-check the row. A count that is not a small whole number (a row
-- written by other means) reads as 0.
WITH dead AS (
    DELETE FROM toro_processes
     WHERE heartbeat_at < now() - make_interval(secs => %(dead_after)s)
    RETURNING id
), candidates AS (
    SELECT j.id,
           CASE WHEN j.properties ->> 'recovered:count' ~ '^[0-9]{1,6}$'
                THEN (j.properties ->> 'recovered:count')::int ELSE 0 END + 1 AS deaths,
           CASE WHEN jsonb_typeof(j.properties -> 'recovered:processes') = 'array'
                THEN j.properties -> 'recovered:processes' ELSE '[]'::jsonb END
           || to_jsonb(COALESCE(j.started_by, '?')) AS processes
      FROM toro_jobs AS j
     WHERE j.status = 'running'
       AND (j.locked_by IN (SELECT id FROM dead)
            OR (j.started_at < now() - interval '1 second'
                AND NOT EXISTS (SELECT 1 FROM toro_processes AS p WHERE p.id = j.locked_by)))
     ORDER BY j.id
       FOR UPDATE OF j
), recovered AS (
    UPDATE toro_jobs AS j
       SET status = CASE WHEN j.cancel_requested_at IS NOT NULL THEN 'cancelled'
                         WHEN n.deaths >= %(max_recoveries)s THEN 'failed'
                         ELSE 'queued' END,
           finished_at = CASE WHEN j.cancel_requested_at IS NOT NULL
                                OR n.deaths >= %(max_recoveries)s THEN now() END,
           locked_by = NULL,
           properties = j.properties || jsonb_build_object(
               'recovered:at', now(),
               'recovered:from', j.started_by,
               'recovered:count', n.deaths,
               'recovered:processes', n.processes)
               || CASE WHEN j.cancel_requested_at IS NULL AND n.deaths >= %(max_recoveries)s
                       THEN jsonb_build_object(
                           'error:class', 'toro_core.errors.WorkerDied',
                           'error:message',
                               'the job killed its worker process ' || n.deaths || ' times ('
                               || (SELECT string_agg(p, ', ')
                                     FROM jsonb_array_elements_text(n.processes) AS p)
                               || '); it is not run again (its process crashed, was killed '
                               || 'or was declared dead while it ran; see --max-recoveries)',
                           'error:backtrace', '')
                       ELSE '{}'::jsonb END
      FROM candidates AS n
     WHERE j.id = n.id
    RETURNING j.id, j.queue, j.status
), woken AS (
    SELECT pg_notify('toro_jobs', queue)
      FROM (SELECT DISTINCT queue FROM recovered WHERE status = 'queued') AS q
)
SELECT (SELECT count(*) FROM dead) AS dead_processes,
       (SELECT count(*) FROM recovered WHERE status <> 'failed') AS recovered_jobs,
       (SELECT count(*) FROM woken) AS woken_queues,
       (SELECT COALESCE(array_agg(id ORDER BY id), '{}') FROM recovered
         WHERE status = 'failed') AS failed_ids;

-- name: release_unstarted_jobs
-- Gives back to the queue jobs process %(owner)s claimed ahead of its slots but never started
-- (they waited behind slower jobs): queued again as if never claimed, the attempt the claim
-- counted taken back; fenced (still held by %(owner)s at the attempt it claimed). A job
-- someone asked to cancel meanwhile ends cancelled.
WITH released AS (
    UPDATE toro_jobs AS t
       SET status = CASE WHEN t.cancel_requested_at IS NULL THEN 'queued' ELSE 'cancelled' END,
           finished_at = CASE WHEN t.cancel_requested_at IS NULL THEN NULL ELSE now() END,
           attempt = t.attempt - 1, locked_by = NULL, started_at = NULL, started_by = NULL
      FROM unnest(%(ids)s::bigint[], %(attempts)s::int[]) AS o(id, attempt)
     WHERE t.id = o.id AND t.attempt = o.attempt AND t.locked_by = %(owner)s
       AND t.status = 'running'
    RETURNING t.id, t.queue
), woken AS (
    SELECT pg_notify('toro_jobs', queue) FROM (SELECT DISTINCT queue FROM released) AS q
)
SELECT id FROM released, (SELECT count(*) FROM woken) AS w;

-- name: release_unknown_jobs
-- Puts back to queued the jobs the database says process %(owner)s holds but the process does
-- not know of (%(known)s are the ids it is running or has outcomes for): a claim that
-- committed while its answer was lost to a broken connection, or an outcome lost by a
-- database crash with synchronous_commit off. Run by the process itself, between claims.
-- No process died, so "recovered:count" (what --max-recoveries counts) is left as it is.
WITH released AS (
    UPDATE toro_jobs AS j
       SET status = CASE WHEN j.cancel_requested_at IS NULL THEN 'queued' ELSE 'cancelled' END,
           finished_at = CASE WHEN j.cancel_requested_at IS NULL THEN NULL ELSE now() END,
           locked_by = NULL,
           properties = j.properties || jsonb_build_object(
               'recovered:at', now(),
               'recovered:from', j.started_by)
     WHERE j.locked_by = %(owner)s AND j.status = 'running' AND j.id <> ALL(%(known)s::bigint[])
    RETURNING j.id, j.queue
), woken AS (
    SELECT pg_notify('toro_jobs', queue) FROM (SELECT DISTINCT queue FROM released) AS q
)
SELECT id FROM released, (SELECT count(*) FROM woken) AS w;

-- name: list_processes
-- The live process table, with each process's running jobs.
SELECT p.id, p.host, p.pid, p.queues, p.concurrency, p.started_at, p.heartbeat_at,
       extract(epoch FROM now() - p.heartbeat_at) AS heartbeat_age,
       COALESCE(array_agg(j.id ORDER BY j.id) FILTER (WHERE j.id IS NOT NULL), '{}') AS running
  FROM toro_processes AS p
  LEFT JOIN toro_jobs AS j ON j.locked_by = p.id AND j.status = 'running'
 GROUP BY p.id
 ORDER BY p.host, p.pid;

-- name: count_by_queue_status
-- How many jobs each queue has in each status.
SELECT queue, status, count(*) AS jobs FROM toro_jobs GROUP BY queue, status ORDER BY queue, status;

-- name: get_job
-- One job by id, with its result (args, kwargs, properties and headers as JSON text, read by
-- Job.from_json_row like the claim's).
SELECT id, queue, class_name, args::text AS args, name, created_at, scheduled_at, started_at,
       finished_at, status, started_by, properties::text AS properties, attempt,
       kwargs::text AS kwargs, priority, unique_key, cancel_requested_at,
       limit_key, holds_slots, result, headers::text AS headers
  FROM toro_jobs WHERE id = %(id)s;

-- name: get_jobs
-- Jobs by id, in id order, with their results (JSON as text, as get_job).
SELECT id, queue, class_name, args::text AS args, name, created_at, scheduled_at, started_at,
       finished_at, status, started_by, properties::text AS properties, attempt,
       kwargs::text AS kwargs, priority, unique_key, cancel_requested_at,
       limit_key, holds_slots, result, headers::text AS headers
  FROM toro_jobs WHERE id = ANY(%(ids)s::bigint[]) ORDER BY id;

-- name: await_job
-- Marks job %(id)s as awaited, unless its status is one of the final %(final)s, and returns
-- it: from now on its outcome writes send a NOTIFY on toro_finished_<id>. No row back: the job
-- is finished already (or does not exist); read it with get_job. The row lock orders this
-- with a concurrent outcome write: either that write sees the mark and notifies, or this
-- statement sees the final status and marks nothing.
UPDATE toro_jobs SET awaited_at = COALESCE(awaited_at, now())
 WHERE id = %(id)s AND status <> ALL(%(final)s::text[])
RETURNING id, queue, class_name, args, name, created_at, scheduled_at, started_at, finished_at,
          status, started_by, properties, attempt, kwargs, priority, unique_key,
          cancel_requested_at, limit_key, holds_slots, result;

-- name: schema_ready
-- Whether the core tables exist.
SELECT to_regclass('toro_jobs') IS NOT NULL AND to_regclass('toro_processes') IS NOT NULL;

-- name: unblock_jobs
-- Queues again the jobs waiting for a concurrency slot ('blocked') of limits that have free
-- slots now: at most as many per limit as it has free slots, in claim order; wakes their
-- queues. Driven by the blocked jobs (a small index), so it costs one probe when none wait.
-- (A job leaving 'running' hands its slot on at once, see migration 0009; this catches the
-- rest, such as a job parked by a claim while a slot freed.)
WITH keys AS (
    SELECT b.limit_key AS key,
           (SELECT count(*) FROM toro_limit_slots AS s JOIN toro_limits AS l ON l.key = s.key
             WHERE s.key = b.limit_key AND s.job_id IS NULL AND s.slot < l.concurrency) AS free
      FROM (SELECT DISTINCT limit_key FROM toro_jobs WHERE status = 'blocked') AS b
), picked AS (
    SELECT j.id
      FROM keys AS k
     CROSS JOIN LATERAL (
           SELECT id FROM toro_jobs
            WHERE status = 'blocked' AND limit_key = k.key
            ORDER BY -priority, id
            LIMIT k.free
              FOR UPDATE SKIP LOCKED) AS j
     WHERE k.free > 0
), unblocked AS (
    UPDATE toro_jobs AS t SET status = 'queued' FROM picked WHERE t.id = picked.id
    RETURNING t.queue
), woken AS (
    SELECT pg_notify('toro_jobs', q.queue) FROM (SELECT DISTINCT queue FROM unblocked) AS q
)
SELECT (SELECT count(*) FROM unblocked) AS unblocked, (SELECT count(*) FROM woken) AS queues;

-- name: set_queue_limit
-- Sets (or with %(concurrency)s NULL, clears) the concurrency limit of queue %(name)s: its
-- limit row 'queue:<name>' and its slots. Claims obey it from their next statement on.
WITH limit_row AS (
    INSERT INTO toro_limits (key, concurrency)
    VALUES ('queue:' || %(name)s, %(concurrency)s)
    ON CONFLICT (key) DO UPDATE SET concurrency = excluded.concurrency, updated_at = now()
    RETURNING key
), slots AS (
    INSERT INTO toro_limit_slots (key, slot)
    SELECT 'queue:' || %(name)s, g
      FROM generate_series(0, COALESCE(%(concurrency)s::int, 0) - 1) AS g
    ON CONFLICT DO NOTHING
)
SELECT key FROM limit_row;

-- name: list_limits
-- Every limit with how full it is now: running jobs holding its slots, jobs blocked on it,
-- and the starts in its rate window. Queues' limits first, then by key; at most %(limit)s
-- (NULL: all; per-key limits can be many, and a page that polls wants a few).
SELECT l.key, l.concurrency, l.rate, l.per_seconds,
       (SELECT count(*) FROM toro_limit_slots AS s
         WHERE s.key = l.key AND s.job_id IS NOT NULL) AS running,
       (SELECT count(*) FROM toro_jobs AS j
         WHERE j.status = 'blocked' AND j.limit_key = l.key) AS blocked,
       (SELECT count(*) FROM unnest(l.starts) AS t(at)
         WHERE t.at >= now() - make_interval(secs => l.per_seconds)) AS recent_starts
  FROM toro_limits AS l
 WHERE l.concurrency IS NOT NULL OR l.rate IS NOT NULL
 ORDER BY NOT starts_with(l.key, 'queue:'), l.key
 LIMIT %(limit)s;

-- name: limits_for
-- The limits named in %(keys)s with how full they are now, like list_limits.
SELECT l.key, l.concurrency, l.rate, l.per_seconds,
       (SELECT count(*) FROM toro_limit_slots AS s
         WHERE s.key = l.key AND s.job_id IS NOT NULL) AS running,
       (SELECT count(*) FROM toro_jobs AS j
         WHERE j.status = 'blocked' AND j.limit_key = l.key) AS blocked,
       (SELECT count(*) FROM unnest(l.starts) AS t(at)
         WHERE t.at >= now() - make_interval(secs => l.per_seconds)) AS recent_starts
  FROM toro_limits AS l
 WHERE l.key = ANY(%(keys)s::text[]);

-- name: promote_due
-- Moves up to %(limit)s scheduled jobs whose time has come to queued, earliest first, and wakes
-- the workers of their queues (one NOTIFY per queue). Rows another promoter holds are skipped,
-- so any number of processes may run this at once; each job is promoted by one of them.
WITH due AS (
    SELECT id
      FROM toro_jobs
     WHERE status = 'scheduled' AND scheduled_at <= now()
     ORDER BY scheduled_at
     LIMIT %(limit)s
       FOR UPDATE SKIP LOCKED
), promoted AS (
    UPDATE toro_jobs AS j
       SET status = 'queued'
      FROM due
     WHERE j.id = due.id
    RETURNING j.queue
), woken AS (
    SELECT pg_notify('toro_jobs', q.queue) FROM (SELECT DISTINCT queue FROM promoted) AS q
)
SELECT (SELECT count(*) FROM promoted) AS promoted, (SELECT count(*) FROM woken) AS queues;

-- name: retry_jobs
-- Puts failed or cancelled jobs %(ids)s back to queued. Fenced on status: a job in any other
-- status is left alone (no row back). The last error moves into the list "retried:history"
-- with the times of the attempt it ended, so the history is kept; idle workers are woken. A
-- unique job whose key another waiting or running job holds is left alone too (as is all but
-- the first of several with one key), so the key stays unique. The count of worker deaths
-- (recovered:count, see recover_jobs) starts again: a retry is a fresh budget.
WITH candidates AS (
    SELECT DISTINCT ON (COALESCE(t.unique_key, t.id::text)) t.id
      FROM toro_jobs AS t
     WHERE t.id = ANY(%(ids)s::bigint[]) AND t.status IN ('failed', 'cancelled')
       AND NOT EXISTS (SELECT 1 FROM toro_jobs AS o
                        WHERE o.unique_key = t.unique_key
                          AND o.status IN ('queued', 'scheduled', 'running', 'blocked'))
     ORDER BY COALESCE(t.unique_key, t.id::text), t.id
), retried AS (
    UPDATE toro_jobs AS t
       SET status = 'queued', started_at = NULL, finished_at = NULL, started_by = NULL,
           locked_by = NULL, cancel_requested_at = NULL,
           properties = (t.properties - 'error:class' - 'error:message' - 'error:backtrace'
                         - 'recovered:count' - 'recovered:processes')
               || jsonb_build_object(
                   'retried:at', now(),
                   'retried:by', %(by)s::text,
                   'retried:count', COALESCE((t.properties ->> 'retried:count')::int, 0) + 1,
                   'retried:history', COALESCE(t.properties -> 'retried:history', '[]'::jsonb)
                       || jsonb_build_array(jsonb_build_object(
                           'at', now(),
                           'status', t.status,
                           'attempt', t.attempt,
                           'started_at', t.started_at,
                           'finished_at', t.finished_at,
                           'class', t.properties -> 'error:class',
                           'message', t.properties -> 'error:message',
                           'backtrace', t.properties -> 'error:backtrace')))
      FROM candidates AS c
     WHERE t.id = c.id AND t.status IN ('failed', 'cancelled')
    RETURNING t.id, t.queue
), woken AS (
    SELECT pg_notify('toro_jobs', queue) FROM (SELECT DISTINCT queue FROM retried) AS q
)
SELECT id FROM retried, (SELECT count(*) FROM woken) AS w ORDER BY id;

-- name: cancel_jobs
-- Cancels jobs %(ids)s. A queued, scheduled or blocked job is cancelled at once; a running one gets
-- cancel_requested_at, and its holder (woken by a NOTIFY on toro_control, or its poll) stops
-- it, its outcome then written as cancelled. Rows are locked first, so a job finishing at the
-- same moment is either finished (and left so) or cancelled, never both. A job cancelled at
-- once that someone waits for gets its NOTIFY on toro_finished_<id>. Returns each id with
-- what happened: 'cancelled', 'requested', or the final status it already had.
WITH target AS (
    SELECT id, status FROM toro_jobs WHERE id = ANY(%(ids)s::bigint[]) ORDER BY id FOR UPDATE
), cancelled AS (
    UPDATE toro_jobs AS t
       SET status = 'cancelled', finished_at = now(), cancel_requested_at = now(),
           properties = t.properties || jsonb_build_object(
               'cancel:at', now(), 'cancel:by', %(by)s::text, 'cancel:was', t.status)
      FROM target
     WHERE t.id = target.id AND target.status IN ('queued', 'scheduled', 'blocked')
    RETURNING t.id, t.awaited_at
), told AS (
    SELECT pg_notify('toro_finished_' || id, 'cancelled') FROM cancelled
     WHERE awaited_at IS NOT NULL
), requested AS (
    UPDATE toro_jobs AS t
       SET cancel_requested_at = COALESCE(t.cancel_requested_at, now()),
           properties = t.properties || jsonb_build_object(
               'cancel:at', now(), 'cancel:by', %(by)s::text, 'cancel:was', 'running')
      FROM target
     WHERE t.id = target.id AND target.status = 'running'
    RETURNING t.id
), woken AS (
    SELECT pg_notify('toro_control', 'cancel') WHERE EXISTS (SELECT 1 FROM requested)
)
SELECT target.id,
       CASE WHEN target.id IN (SELECT id FROM cancelled) THEN 'cancelled'
            WHEN target.id IN (SELECT id FROM requested) THEN 'requested'
            ELSE target.status END AS outcome
  FROM target, (SELECT count(*) FROM woken) AS w, (SELECT count(*) FROM told) AS n
 ORDER BY target.id;

-- name: cancel_requested
-- The running jobs held by %(owner)s that someone asked to cancel (walks the running index).
SELECT id FROM toro_jobs
 WHERE locked_by = %(owner)s AND status = 'running' AND cancel_requested_at IS NOT NULL;

-- name: find_job_ids
-- Ids of the jobs in one of %(statuses)s matching the optional filters (queue, worker class),
-- newest first, at most %(limit)s: an admin command's way from filters to ids.
SELECT id FROM toro_jobs
 WHERE status = ANY(%(statuses)s::text[])
   AND (%(queue)s::text IS NULL OR queue = %(queue)s)
   AND (%(class_name)s::text IS NULL OR class_name = %(class_name)s)
 ORDER BY id DESC
 LIMIT %(limit)s;

-- name: list_jobs
-- The newest %(limit)s jobs matching the optional filters (status, queue, worker class), with
-- everything an admin listing shows (JSON as text, as get_job).
SELECT id, queue, class_name, args::text AS args, name, created_at, scheduled_at, started_at,
       finished_at, status, started_by, properties::text AS properties, attempt,
       kwargs::text AS kwargs, priority, unique_key, cancel_requested_at,
       limit_key, holds_slots, headers::text AS headers
  FROM toro_jobs
 WHERE (%(status)s::text IS NULL OR status = %(status)s)
   AND (%(queue)s::text IS NULL OR queue = %(queue)s)
   AND (%(class_name)s::text IS NULL OR class_name = %(class_name)s)
 ORDER BY id DESC
 LIMIT %(limit)s;

-- name: pause_queue
-- Pauses queue %(name)s (every process stops claiming from it at its next claim); returns
-- whether it was running before. Tells the workers at once (they also re-read it each claim).
WITH previous AS (
    SELECT paused_at FROM toro_queues WHERE name = %(name)s
), upserted AS (
    INSERT INTO toro_queues (name, paused_at, paused_by, updated_at)
    VALUES (%(name)s, now(), %(by)s, now())
    ON CONFLICT (name) DO UPDATE
       SET paused_at = COALESCE(toro_queues.paused_at, excluded.paused_at),
           paused_by = CASE WHEN toro_queues.paused_at IS NULL THEN excluded.paused_by
                            ELSE toro_queues.paused_by END,
           updated_at = now()
    RETURNING name
), woken AS (
    SELECT pg_notify('toro_control', 'queues')
)
SELECT NOT EXISTS (SELECT 1 FROM previous WHERE paused_at IS NOT NULL) AS changed
  FROM upserted, (SELECT count(*) FROM woken) AS w;

-- name: resume_queue
-- Resumes queue %(name)s; returns whether it was paused. Wakes the queue's idle workers.
WITH resumed AS (
    UPDATE toro_queues SET paused_at = NULL, paused_by = NULL, updated_at = now()
     WHERE name = %(name)s AND paused_at IS NOT NULL
    RETURNING name
), woken AS (
    SELECT pg_notify('toro_jobs', name) FROM resumed
)
SELECT EXISTS (SELECT 1 FROM resumed) AS changed, (SELECT count(*) FROM woken) AS w;

-- name: list_queues
-- Every queue that has jobs, a row in toro_queues or a live process serving it: its paused
-- state and the processes serving it (their concurrency summed).
WITH names AS (
    SELECT DISTINCT queue AS name FROM toro_jobs
    UNION SELECT name FROM toro_queues
    UNION SELECT unnest(queues) FROM toro_processes
)
SELECT n.name, q.paused_at, q.paused_by,
       (SELECT count(*) FROM toro_processes AS p WHERE n.name = ANY(p.queues)) AS processes,
       (SELECT COALESCE(sum(p.concurrency), 0) FROM toro_processes AS p
         WHERE n.name = ANY(p.queues)) AS slots
  FROM names AS n
  LEFT JOIN toro_queues AS q ON q.name = n.name
 ORDER BY n.name;

-- name: queue_states
-- The queues that have a row in toro_queues (paused now, or paused once): the paused state
-- alone, cheap on any table size (list_queues also reads every queue name in toro_jobs).
SELECT name, paused_at, paused_by FROM toro_queues ORDER BY name;

-- name: set_running_properties
-- Merges %(patch)s (a JSON object) into a running job's properties at once, so other sessions
-- (the monitor, reports) see progress before the job ends. Fenced like finish_jobs: only while
-- the job is still running under the same holder and attempt (the fencing token), and the
-- holder is still a registered process. Returns the id when written, nothing when refused.
UPDATE toro_jobs
   SET properties = properties || %(patch)s::jsonb
 WHERE id = %(id)s
   AND attempt = %(attempt)s
   AND locked_by = %(holder)s
   AND status = 'running'
   AND EXISTS (SELECT 1 FROM toro_processes AS p WHERE p.id = %(holder)s)
RETURNING id;

-- name: lock_migrations
-- Taken by `toro-core migrate` for its transaction: a second migrate waits, then finds nothing
-- left to apply.
SELECT pg_advisory_xact_lock(%(key)s);

-- name: create_migrations_table
-- What migrations were applied, per owner (the kernel and each plugin).
CREATE TABLE IF NOT EXISTS toro_migrations (
    owner      text        NOT NULL,
    number     integer     NOT NULL,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, number)
);

-- name: applied_migrations
-- Every migration applied so far.
SELECT owner, number FROM toro_migrations;

-- name: record_migration
-- Notes that a migration was applied (in the transaction that applied it).
INSERT INTO toro_migrations (owner, number, name) VALUES (%(owner)s, %(number)s, %(name)s);

-- name: waiting_queues
-- The queues that have jobs waiting (queued, blocked or scheduled): what a drain serves when
-- it is given none. One branch per status, each a partial index's predicate (an IN list
-- proves none of them, and would read the whole table, history included).
SELECT queue FROM toro_jobs WHERE status = 'queued'
UNION
SELECT queue FROM toro_jobs WHERE status = 'scheduled'
UNION
SELECT queue FROM toro_jobs WHERE status = 'blocked';

-- name: promote_scheduled
-- Queues every scheduled job of %(queues)s now, due or not (a drain that runs scheduled jobs
-- too, as a test asks), and wakes their queues.
WITH promoted AS (
    UPDATE toro_jobs SET status = 'queued'
     WHERE status = 'scheduled' AND queue = ANY(%(queues)s::text[])
    RETURNING queue
)
SELECT count(*) AS promoted FROM promoted;

-- name: claim_job
-- Claims queued job %(id)s for process %(owner)s (the inline mode of tests, which runs a job
-- at once): the same columns as claim_jobs, no limits, no order.
UPDATE toro_jobs AS t
   SET status = 'running', started_at = now(), finished_at = NULL,
       started_by = %(started_by)s, locked_by = %(owner)s, attempt = t.attempt + 1
 WHERE t.id = %(id)s AND t.status IN ('queued', 'scheduled', 'blocked')
   AND EXISTS (SELECT 1 FROM toro_processes WHERE id = %(owner)s)
RETURNING t.id, t.queue, t.class_name, t.args::text AS args, t.name, t.created_at,
          t.scheduled_at, t.started_at, t.finished_at, t.status, t.started_by,
          t.properties::text AS properties, t.attempt, t.kwargs::text AS kwargs, t.priority,
          t.unique_key, t.cancel_requested_at, t.limit_key, t.holds_slots;

-- name: waiting_jobs
-- The waiting jobs (queued, scheduled or blocked) of worker class %(class_name)s, oldest
-- first, at most %(limit)s: what a test's assert_enqueued looks through.
SELECT id, queue, class_name, args, name, created_at, scheduled_at, started_at, finished_at,
       status, started_by, properties, attempt, kwargs, priority, unique_key,
       cancel_requested_at, limit_key, holds_slots
  FROM toro_jobs
 WHERE class_name = %(class_name)s AND status IN ('queued', 'scheduled', 'blocked')
 ORDER BY id
 LIMIT %(limit)s;

-- name: prune_settings
-- The settings of one prune batch's transaction, local to it (so they hold through a pooler in
-- transaction mode): no statement of it runs longer than %(timeout_ms)s milliseconds, and its
-- commit does not wait for the WAL flush (a batch forgotten by a crash of the server is
-- deleted again by the next one).
SELECT set_config('statement_timeout', %(timeout_ms)s, true) AS statement_timeout,
       set_config('synchronous_commit', 'off', true) AS synchronous_commit;

-- name: prune_jobs
-- Deletes up to %(limit)s jobs in status %(status)s that finished more than %(keep)s seconds
-- ago, oldest first, after the keyset cursor (%(after_at)s, %(after_id)s), walking the index
-- toro_jobs_finished (whose predicate is repeated here, so the planner always may). Only while
-- holding the prune lock: a transaction-level advisory lock on %(lock)s, so one batch runs at
-- a time across every process, the lock goes with the commit and no session keeps state;
-- without it nothing is deleted and "locked" is false. Rows another transaction holds are
-- skipped (a retry or a cancel at the same moment wins) and locked before they are deleted, so
-- a job that changed status meanwhile is never deleted; the locked rows are deleted by their
-- ctid (no second walk of the primary key). Returns whether the lock was taken, how many jobs
-- were deleted, and the cursor after the last of them.
WITH prune_lock AS (
    SELECT pg_try_advisory_xact_lock(%(lock)s) AS taken
), batch AS (
    SELECT ctid, id, finished_at
      FROM toro_jobs
     WHERE status NOT IN ('queued', 'running', 'scheduled', 'blocked')
       AND status = %(status)s
       AND finished_at < now() - make_interval(secs => %(keep)s)
       AND (finished_at, id) > (%(after_at)s::timestamptz, %(after_id)s::bigint)
       AND (SELECT taken FROM prune_lock)
     ORDER BY finished_at, id
     LIMIT %(limit)s
       FOR UPDATE SKIP LOCKED
), deleted AS (
    DELETE FROM toro_jobs AS t
     USING batch
     WHERE t.ctid = batch.ctid AND t.status = %(status)s
    RETURNING t.id
)
SELECT (SELECT taken FROM prune_lock) AS locked,
       (SELECT count(*) FROM deleted) AS deleted,
       last.finished_at AS last_at, last.id AS last_id
  FROM (SELECT 1) AS one
  LEFT JOIN (SELECT finished_at, id FROM batch ORDER BY finished_at DESC, id DESC LIMIT 1) AS last
    ON true;

-- name: count_prunable
-- How many jobs in status %(status)s finished more than %(keep)s seconds ago: what a prune
-- would delete now (toro-core prune --dry-run), counted on toro_jobs_finished.
SELECT count(*) AS jobs
  FROM toro_jobs
 WHERE status NOT IN ('queued', 'running', 'scheduled', 'blocked')
   AND status = %(status)s
   AND finished_at < now() - make_interval(secs => %(keep)s);
