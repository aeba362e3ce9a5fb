-- toro-core's queries. Each block starts with "-- name:"; parameters are %(name)s.

-- name: insert_job
-- Inserts one job and returns it. A queued job wakes idle workers of its queue with a NOTIFY
-- (delivered when the inserting transaction commits); workers also poll, so a row inserted
-- by other means is picked up all the same.
WITH inserted AS (
    INSERT INTO toro_jobs (queue, class_name, args, name, status, scheduled_at, properties)
    VALUES (%(queue)s, %(class_name)s, %(args)s::jsonb, %(name)s, %(status)s, %(scheduled_at)s,
            %(properties)s::jsonb)
    RETURNING id, queue, class_name, args, name, created_at, scheduled_at, started_at,
              finished_at, status, started_by, properties, attempt
)
SELECT i.*
  FROM inserted AS i
  LEFT JOIN LATERAL (SELECT pg_notify('toro_jobs', i.queue) WHERE i.status = 'queued') AS woken
    ON true;

-- name: insert_jobs
-- Inserts many jobs of one worker class in one statement and returns their ids in input
-- order; one NOTIFY for the statement when they are queued.
WITH inserted AS (
    INSERT INTO toro_jobs (queue, class_name, args, name, status, scheduled_at)
    SELECT %(queue)s, %(class_name)s, u.args::jsonb, u.name, %(status)s, %(scheduled_at)s
      FROM unnest(%(args)s::text[], %(names)s::text[]) WITH ORDINALITY AS u(args, name, ord)
     ORDER BY u.ord
    RETURNING id
), woken AS (
    SELECT pg_notify('toro_jobs', %(queue)s) WHERE %(status)s = 'queued'
)
SELECT id FROM inserted WHERE (SELECT count(*) FROM woken) >= 0 ORDER BY id;

-- name: claim_jobs
-- Claims up to %(limit)s queued jobs of the given queues, oldest first, for process %(owner)s.
-- Each queue is walked in its own index range starting after %(after)s (the last id this
-- process claimed), so dead index entries of jobs claimed earlier are not walked again.
-- Nothing is claimed when the process is no longer registered (it was declared dead).
WITH picked AS (
    SELECT j.id
      FROM unnest(%(queues)s::text[]) AS q(name)
     CROSS JOIN LATERAL (
           SELECT id FROM toro_jobs
            WHERE status = 'queued' AND queue = q.name AND id > %(after)s
            ORDER BY id
            LIMIT %(limit)s
              FOR UPDATE SKIP LOCKED) AS j
     WHERE EXISTS (SELECT 1 FROM toro_processes WHERE id = %(owner)s)
     ORDER BY j.id
     LIMIT %(limit)s
)
UPDATE toro_jobs AS t
   SET status = 'running', started_at = now(), finished_at = NULL,
       started_by = %(started_by)s, locked_by = %(owner)s, attempt = t.attempt + 1
  FROM picked
 WHERE t.id = picked.id
RETURNING t.id, t.queue, t.class_name, t.args, t.name, t.created_at, t.scheduled_at,
          t.started_at, t.finished_at, t.status, t.started_by, t.properties, t.attempt;

-- name: claim_jobs_one_queue
-- claim_jobs for a process that serves a single queue: the same rows, a simpler plan.
UPDATE toro_jobs AS t
   SET status = 'running', started_at = now(), finished_at = NULL,
       started_by = %(started_by)s, locked_by = %(owner)s, attempt = t.attempt + 1
 WHERE t.id IN (
           SELECT id FROM toro_jobs
            WHERE status = 'queued' AND queue = %(queue)s AND id > %(after)s
              AND EXISTS (SELECT 1 FROM toro_processes WHERE id = %(owner)s)
            ORDER BY id
            LIMIT %(limit)s
              FOR UPDATE SKIP LOCKED)
RETURNING t.id, t.queue, t.class_name, t.args, t.name, t.created_at, t.scheduled_at,
          t.started_at, t.finished_at, t.status, t.started_by, t.properties, t.attempt;

-- name: finish_jobs_plain
-- finish_jobs for the common case: outcomes of one status with no properties to merge and no
-- new scheduled_at (fewer arrays to send and join). Fenced the same way.
UPDATE toro_jobs AS t
   SET status = %(status)s,
       finished_at = t.started_at + make_interval(secs => o.duration),
       locked_by = NULL
  FROM unnest(%(ids)s::bigint[], %(attempts)s::int[], %(durations)s::float8[])
       AS o(id, attempt, duration)
 WHERE t.id = o.id AND t.attempt = o.attempt AND t.locked_by = %(owner)s
   AND t.status = 'running'
RETURNING t.id;

-- name: finish_jobs
-- Writes the outcomes of finished attempts in one statement. An outcome is written only while
-- the job is still running under the same fencing token (holder and attempt); the ids written
-- are returned, so the caller can tell which outcomes were refused.
UPDATE toro_jobs AS t
   SET status = o.status,
       finished_at = t.started_at + make_interval(secs => o.duration),
       scheduled_at = COALESCE(o.scheduled_at, t.scheduled_at),
       properties = t.properties || o.patch,
       locked_by = NULL
  FROM unnest(%(ids)s::bigint[], %(attempts)s::int[], %(statuses)s::text[],
              %(durations)s::float8[], %(scheduled)s::timestamptz[], %(patches)s::jsonb[])
       AS o(id, attempt, status, duration, scheduled_at, patch)
 WHERE t.id = o.id AND t.attempt = o.attempt AND t.locked_by = %(owner)s
   AND t.status = 'running'
RETURNING t.id;

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
-- count; fenced like finish_jobs.
WITH requeued AS (
    UPDATE toro_jobs AS t
       SET status = 'queued', locked_by = NULL, started_at = NULL, started_by = NULL,
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
-- running job that no live process holds back to queued, keeping its attempt count and
-- recording when and from which process it was recovered. Safe to run from many processes:
-- row locks let one of them requeue each job. A job whose holder is simply missing (removed
-- by an earlier run while it was claiming, or gone after a clean exit that could not write
-- everything) must have started before this statement: a job claimed meanwhile by a process
-- registered after this statement's snapshot would otherwise look orphaned when a concurrent
-- recovery makes PostgreSQL re-check the row.
WITH dead AS (
    DELETE FROM toro_processes
     WHERE heartbeat_at < now() - make_interval(secs => %(dead_after)s)
    RETURNING id
), requeued AS (
    UPDATE toro_jobs AS j
       SET status = 'queued', locked_by = NULL,
           properties = j.properties || jsonb_build_object(
               'recovered:at', now(),
               'recovered:from', j.started_by,
               'recovered:count', COALESCE((j.properties ->> 'recovered:count')::int, 0) + 1)
     WHERE j.status = 'running'
       AND (j.locked_by IN (SELECT id FROM dead)
            OR (j.started_at < now() - interval '1 second'
                AND NOT EXISTS (SELECT 1 FROM toro_processes AS p WHERE p.id = j.locked_by)))
    RETURNING j.id, j.queue
), woken AS (
    SELECT pg_notify('toro_jobs', queue) FROM (SELECT DISTINCT queue FROM requeued) AS q
)
SELECT (SELECT count(*) FROM dead) AS dead_processes,
       (SELECT count(*) FROM requeued) AS recovered_jobs,
       (SELECT count(*) FROM woken) AS woken_queues;

-- name: release_unknown_jobs
-- Puts back to queued the jobs the database says process %(owner)s holds but the process does
-- not know of (%(known)s are the ids it is running or has outcomes for): a claim that
-- committed while its answer was lost to a broken connection, or an outcome lost by a
-- database crash with synchronous_commit off. Run by the process itself, between claims.
WITH released AS (
    UPDATE toro_jobs AS j
       SET status = 'queued', locked_by = NULL,
           properties = j.properties || jsonb_build_object(
               'recovered:at', now(),
               'recovered:from', j.started_by,
               'recovered:count', COALESCE((j.properties ->> 'recovered:count')::int, 0) + 1)
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
-- One job by id.
SELECT id, queue, class_name, args, name, created_at, scheduled_at, started_at, finished_at,
       status, started_by, properties, attempt
  FROM toro_jobs WHERE id = %(id)s;

-- name: get_jobs
-- Jobs by id, in id order.
SELECT id, queue, class_name, args, name, created_at, scheduled_at, started_at, finished_at,
       status, started_by, properties, attempt
  FROM toro_jobs WHERE id = ANY(%(ids)s::bigint[]) ORDER BY id;

-- name: schema_ready
-- Whether the core tables exist.
SELECT to_regclass('toro_jobs') IS NOT NULL AND to_regclass('toro_processes') IS NOT NULL;

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

-- name: retry_failed
-- Puts failed jobs %(ids)s back to queued. Fenced on status: a job that is no longer failed is
-- left alone (no row back). The last error moves into the list "retried:history" with the
-- times of the attempt it ended, so the history is kept; idle workers are woken.
WITH retried AS (
    UPDATE toro_jobs AS t
       SET status = 'queued', started_at = NULL, finished_at = NULL, started_by = NULL,
           locked_by = NULL,
           properties = (t.properties - 'error:class' - 'error:message' - 'error:backtrace')
               || jsonb_build_object(
                   'retried:at', now(),
                   'retried:by', %(by)s::text,
                   'retried:count', COALESCE((t.properties ->> 'retried:count')::int, 0) + 1,
                   'retried:history', COALESCE(t.properties -> 'retried:history', '[]'::jsonb)
                       || jsonb_build_array(jsonb_build_object(
                           'at', now(),
                           'attempt', t.attempt,
                           'started_at', t.started_at,
                           'finished_at', t.finished_at,
                           'class', t.properties -> 'error:class',
                           'message', t.properties -> 'error:message',
                           'backtrace', t.properties -> 'error:backtrace')))
     WHERE t.id = ANY(%(ids)s::bigint[]) AND t.status = 'failed'
    RETURNING t.id, t.queue
), woken AS (
    SELECT pg_notify('toro_jobs', queue) FROM (SELECT DISTINCT queue FROM retried) AS q
)
SELECT id FROM retried, (SELECT count(*) FROM woken) AS w ORDER BY id;

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
