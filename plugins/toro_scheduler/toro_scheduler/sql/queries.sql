-- toro-scheduler's queries. Each block starts with "-- name:"; parameters are %(name)s.

-- name: claim_ticks
-- Claims the ticks %(ticks)s of schedule %(schedule)s for this process and returns those it
-- claimed, in order. A tick some process already claimed is left alone by ON CONFLICT DO
-- NOTHING (waiting first for that process's transaction, if it is still open), so a tick is
-- claimed once however many processes try it. The caller enqueues one job per claimed tick in
-- the same transaction: the tick and its job exist together or not at all.
INSERT INTO toro_schedule_ticks (schedule, tick_at, enqueued_by)
SELECT %(schedule)s, t.tick_at, %(enqueued_by)s
  FROM unnest(%(ticks)s::timestamptz[]) AS t(tick_at)
ON CONFLICT (schedule, tick_at) DO NOTHING
RETURNING tick_at;

-- name: link_tick_jobs
-- Records which job each claimed tick of %(schedule)s became (same transaction as enqueue_ticks).
UPDATE toro_schedule_ticks AS t
   SET job_id = l.job_id
  FROM unnest(%(job_ids)s::bigint[], %(ticks)s::timestamptz[]) AS l(job_id, tick_at)
 WHERE t.schedule = %(schedule)s AND t.tick_at = l.tick_at;

-- name: last_ticks
-- The latest enqueued tick of each of the schedules %(names)s (NULL for one never enqueued).
SELECT n.name,
       (SELECT max(t.tick_at) FROM toro_schedule_ticks AS t WHERE t.schedule = n.name) AS last_tick
  FROM unnest(%(names)s::text[]) AS n(name);

-- name: register_schedules
-- Records the schedules this process runs, as it describes them, and that it saw them now.
-- Rows are written in name order so processes registering the same set cannot deadlock.
INSERT INTO toro_schedules (name, queue, kind, expression, timezone, catch_up, args, seen_at,
                            seen_by)
SELECT s.name, s.queue, s.kind, s.expression, s.timezone, s.catch_up, s.args::jsonb, now(),
       %(seen_by)s
  FROM unnest(%(names)s::text[], %(queues)s::text[], %(kinds)s::text[],
              %(expressions)s::text[], %(timezones)s::text[], %(catch_ups)s::float8[],
              %(args)s::text[]) AS s(name, queue, kind, expression, timezone, catch_up, args)
 ORDER BY s.name
ON CONFLICT (name) DO UPDATE
   SET queue = excluded.queue, kind = excluded.kind, expression = excluded.expression,
       timezone = excluded.timezone, catch_up = excluded.catch_up, args = excluded.args,
       seen_at = excluded.seen_at, seen_by = excluded.seen_by;

-- name: prune_ticks
-- Deletes the ticks of schedule p.name older than p.before, keeping each schedule's latest
-- tick (where a process that starts later resumes). p.before lies beyond the catch-up window,
-- so no process would claim a deleted tick again.
DELETE FROM toro_schedule_ticks AS t
 USING unnest(%(names)s::text[], %(before)s::timestamptz[]) AS p(name, before)
 WHERE t.schedule = p.name
   AND t.tick_at < p.before
   AND t.tick_at < (SELECT max(l.tick_at) FROM toro_schedule_ticks AS l WHERE l.schedule = p.name);

-- name: list_schedules
-- Every schedule a worker process registered, with its latest tick, that tick's job and the
-- job's status (NULL once the job is deleted). For the CLI and the monitor page.
SELECT s.name, s.queue, s.kind, s.expression, s.timezone, s.catch_up, s.args, s.seen_at,
       s.seen_by, extract(epoch FROM now() - s.seen_at)::float8 AS seen_age,
       l.tick_at AS last_tick, l.job_id AS last_job_id, j.status AS last_job_status
  FROM toro_schedules AS s
  LEFT JOIN LATERAL (
        SELECT t.tick_at, t.job_id
          FROM toro_schedule_ticks AS t
         WHERE t.schedule = s.name
         ORDER BY t.tick_at DESC
         LIMIT 1) AS l ON true
  LEFT JOIN toro_jobs AS j ON j.id = l.job_id
 ORDER BY s.name;

-- name: upcoming_jobs
-- The next %(limit)s scheduled jobs, earliest first (walks the scheduled index), with the
-- seconds until each is due by the database's clock (negative: due, not yet promoted).
-- For the CLI and the monitor page.
SELECT id, queue, class_name, name, args, attempt, scheduled_at,
       extract(epoch FROM scheduled_at - now())::float8 AS due_in
  FROM toro_jobs
 WHERE status = 'scheduled'
 ORDER BY scheduled_at
 LIMIT %(limit)s;

-- name: monitor_upcoming_jobs
-- upcoming_jobs for the monitor page, which must show any row: text cut to %(cut)s characters
-- and the arguments to %(args_cut)s (as text, so no depth of JSON reaches the page), and no
-- due time for an infinite scheduled_at (PostgreSQL cannot subtract it).
SELECT id, left(queue, %(cut)s) AS queue, left(class_name, %(cut)s) AS class_name,
       left(name, %(cut)s) AS name, attempt, left(args::text, %(args_cut)s) AS args_text,
       scheduled_at,
       CASE WHEN isfinite(scheduled_at)
            THEN extract(epoch FROM scheduled_at - now())::float8 END AS due_in
  FROM toro_jobs
 WHERE status = 'scheduled'
 ORDER BY scheduled_at
 LIMIT %(limit)s;

-- name: monitor_list_schedules
-- list_schedules for the monitor page: text cut to %(cut)s characters, the arguments as text
-- cut to %(args_cut)s, and no age for an infinite seen_at.
SELECT left(s.name, %(cut)s) AS name, left(s.queue, %(cut)s) AS queue, s.kind,
       left(s.expression, %(cut)s) AS expression, left(s.timezone, %(cut)s) AS timezone,
       s.catch_up, left(s.args::text, %(args_cut)s) AS args_text,
       left(s.seen_by, %(cut)s) AS seen_by,
       CASE WHEN isfinite(s.seen_at)
            THEN extract(epoch FROM now() - s.seen_at)::float8 END AS seen_age,
       l.tick_at AS last_tick, l.job_id AS last_job_id, j.status AS last_job_status
  FROM toro_schedules AS s
  LEFT JOIN LATERAL (
        SELECT t.tick_at, t.job_id
          FROM toro_schedule_ticks AS t
         WHERE t.schedule = s.name
         ORDER BY t.tick_at DESC
         LIMIT 1) AS l ON true
  LEFT JOIN toro_jobs AS j ON j.id = l.job_id
 ORDER BY s.name;

-- name: monitor_count_scheduled
-- How many jobs are scheduled, counting at most %(cap)s (an index-only walk of the scheduled
-- index that stays cheap however many jobs wait).
SELECT count(*) AS jobs
  FROM (SELECT 1 FROM toro_jobs WHERE status = 'scheduled' LIMIT %(cap)s) AS capped;

