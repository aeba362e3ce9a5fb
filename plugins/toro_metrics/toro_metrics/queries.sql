-- toro-metrics' queries. Each block starts with "-- name:"; parameters are %(name)s.

-- name: add_minutes
-- Adds a worker process's counts to the per-minute rollup, one row per (minute, queue, status)
-- (the caller sends each key once, in key order, so two processes flushing at once lock rows
-- in the same order). Wait bucket counts are added element by element.
INSERT INTO toro_metrics_minutes AS m
       (minute, queue, status, jobs, duration_sum, wait_sum, wait_counts)
SELECT u.minute, u.queue, u.status, u.jobs, u.duration_sum, u.wait_sum, u.wait_counts::bigint[]
  FROM unnest(%(minutes)s::timestamptz[], %(queues)s::text[], %(statuses)s::text[],
              %(jobs)s::bigint[], %(durations)s::float8[], %(wait_sums)s::float8[],
              %(wait_counts)s::text[])
       AS u(minute, queue, status, jobs, duration_sum, wait_sum, wait_counts)
ON CONFLICT (minute, queue, status) DO UPDATE
   SET jobs = m.jobs + EXCLUDED.jobs,
       duration_sum = m.duration_sum + EXCLUDED.duration_sum,
       wait_sum = m.wait_sum + EXCLUDED.wait_sum,
       wait_counts = ARRAY(SELECT COALESCE(a, 0) + COALESCE(b, 0)
                             FROM unnest(m.wait_counts, EXCLUDED.wait_counts)
                                  WITH ORDINALITY AS w(a, b, i)
                            ORDER BY i);

-- name: prune_minutes
-- Forgets rollup rows older than %(keep_days)s days.
DELETE FROM toro_metrics_minutes WHERE minute < now() - make_interval(days => %(keep_days)s);

-- name: per_minute
-- Attempts finished in each of the last %(minutes)s minutes (the current one included, oldest
-- first, minutes without jobs as zeros): completed, failed and all outcomes.
SELECT m.minute, now() AS now,
       COALESCE(sum(r.jobs) FILTER (WHERE r.status = 'complete'), 0)::bigint AS complete,
       COALESCE(sum(r.jobs) FILTER (WHERE r.status = 'failed'), 0)::bigint AS failed,
       COALESCE(sum(r.jobs), 0)::bigint AS total
  FROM generate_series(date_trunc('minute', now()) - make_interval(mins => %(minutes)s - 1),
                       date_trunc('minute', now()), interval '1 minute') AS m(minute)
  LEFT JOIN toro_metrics_minutes AS r
    ON r.minute = m.minute
   -- the range again, on the rollup's own column: its primary key then serves the join (the
   -- planner cannot see how few minutes generate_series yields and would read every row)
   AND r.minute >= date_trunc('minute', now()) - make_interval(mins => %(minutes)s - 1)
 GROUP BY m.minute
 ORDER BY m.minute;

-- name: per_hour
-- per_minute by hour over the last %(hours)s hours (the current one included).
SELECT h.hour,
       COALESCE(sum(r.jobs) FILTER (WHERE r.status = 'complete'), 0)::bigint AS complete,
       COALESCE(sum(r.jobs) FILTER (WHERE r.status = 'failed'), 0)::bigint AS failed,
       COALESCE(sum(r.jobs), 0)::bigint AS total
  FROM generate_series(date_trunc('hour', now()) - make_interval(hours => %(hours)s - 1),
                       date_trunc('hour', now()), interval '1 hour') AS h(hour)
  LEFT JOIN toro_metrics_minutes AS r
    ON r.minute >= h.hour AND r.minute < h.hour + interval '1 hour'
   AND r.minute >= date_trunc('hour', now()) - make_interval(hours => %(hours)s - 1)
 GROUP BY h.hour
 ORDER BY h.hour;

-- name: waits_per_queue
-- The rollup rows of the last %(minutes)s minutes with their wait bucket counts (the caller
-- adds them up per queue).
SELECT queue, wait_counts, jobs
  FROM toro_metrics_minutes
 WHERE minute >= date_trunc('minute', now()) - make_interval(mins => %(minutes)s - 1);

-- name: queued_queues
-- The queues that have queued jobs, by a skip scan of the kernel's partial index of queued
-- jobs (toro_jobs_queued_by_priority): one index probe per queue, however many jobs wait.
WITH RECURSIVE q(queue) AS (
    (SELECT queue FROM toro_jobs WHERE status = 'queued' ORDER BY queue LIMIT 1)
    UNION ALL
    SELECT (SELECT queue FROM toro_jobs
             WHERE status = 'queued' AND queue > q.queue ORDER BY queue LIMIT 1)
      FROM q WHERE q.queue IS NOT NULL
)
SELECT queue FROM q WHERE queue IS NOT NULL LIMIT %(limit)s;

-- name: queued_depth
-- For each queue of %(queues)s: its queued jobs counted no further than %(cap)s, and the due
-- time (scheduled_at, else created_at) of the oldest of the next %(head)s jobs in line (the
-- claim's order: priority, then id), all read from the partial index of queued jobs.
SELECT q.queue,
       (SELECT count(*) FROM (SELECT 1 FROM toro_jobs
                               WHERE status = 'queued' AND queue = q.queue
                               LIMIT %(cap)s) AS capped) AS jobs,
       (SELECT min(COALESCE(h.scheduled_at, h.created_at))
          FROM (SELECT scheduled_at, created_at FROM toro_jobs
                 WHERE status = 'queued' AND queue = q.queue
                 ORDER BY (-priority), id LIMIT %(head)s) AS h) AS oldest_due,
       now() AS now
  FROM unnest(%(queues)s::text[]) AS q(queue);

-- name: estimate_queued
-- The planner's estimate of the queued jobs of queue %(queue)s (EXPLAIN's JSON).
EXPLAIN (FORMAT JSON) SELECT 1 FROM toro_jobs WHERE status = 'queued' AND queue = %(queue)s;

-- name: running_per_queue
-- Running jobs per queue (there are at most as many as the processes' slots), through the
-- kernel's partial index of running jobs.
SELECT queue, count(*) AS jobs FROM toro_jobs WHERE status = 'running' GROUP BY queue;

-- name: capped_per_queue
-- Jobs in status %(status)s per queue, looking at no more than %(cap)s of them (through the
-- kernel's partial index of that status: scheduled, blocked); the caller knows the counts are
-- exact when the total is below the cap.
SELECT queue, count(*) AS jobs
  FROM (SELECT queue FROM toro_jobs WHERE status = %(status)s LIMIT %(cap)s) AS s
 GROUP BY queue;

-- name: estimate_status
-- The planner's estimate of the jobs in status %(status)s (EXPLAIN's JSON).
EXPLAIN (FORMAT JSON) SELECT 1 FROM toro_jobs WHERE status = %(status)s;

-- name: table_size
-- The planner's row estimate of toro_jobs (-1 before it was ever analysed), its size in pages
-- now and its highest id, all cheap on any size.
SELECT c.reltuples::bigint AS rows,
       pg_relation_size(c.oid) / current_setting('block_size')::bigint AS pages,
       (SELECT max(id) FROM toro_jobs) AS max_id
  FROM pg_class AS c WHERE c.oid = 'toro_jobs'::regclass;

-- name: count_all
-- Exact jobs per queue and status (used on small tables only).
SELECT queue, status, count(*) AS jobs FROM toro_jobs GROUP BY queue, status;

-- name: count_sampled
-- Jobs per queue and status estimated from a block sample of %(percent)s percent of the table
-- (the same blocks each time, so numbers do not jitter between scrapes), leaving out the
-- statuses in %(exclude)s, which the caller counts another way.
SELECT queue, status, count(*) * 100.0 / %(percent)s AS jobs
  FROM toro_jobs TABLESAMPLE SYSTEM (%(percent)s) REPEATABLE (11)
 WHERE NOT (status = ANY(%(exclude)s::text[]))
 GROUP BY queue, status;
