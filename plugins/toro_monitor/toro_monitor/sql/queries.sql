-- toro-monitor's queries. Each block starts with "-- name:"; parameters are %(name)s.
-- Blocks with {placeholders} are templates: the monitor fills them with fixed SQL fragments
-- (filters and sort orders chosen from fixed lists, never text from a request).

-- The monitor's indexes of toro_jobs leave out running jobs (migration 0003): a query over
-- every status is split in two, the jobs at rest (status <> 'running', the monitor's indexes)
-- and the running ones (status = 'running', the kernel's toro_jobs_running: at most as many
-- as the processes' slots), and the two are merged. A query for one status reads one side.
-- Those indexes hold queue, class_name and status in the "C" collation, which the conditions
-- and orders meant for them name (COLLATE "C"); the predicates are written out as they are,
-- since a condition in another collation proves none.

-- name: table_size
-- The planner's row estimate of toro_jobs (-1 before it was ever analysed) and its highest id,
-- both cheap on any size.
SELECT c.reltuples::bigint AS estimate,
       (SELECT max(id) FROM toro_jobs) AS max_id
  FROM pg_class AS c
 WHERE c.oid = 'toro_jobs'::regclass;

-- name: list_jobs
-- One page of the jobs list: the "rows" placeholder selects up to %(limit)s matching rows in
-- the page's order (list_rows, list_rows_split, or the _few variants), which are sorted again
-- here (the order names the columns qualified, so it never means the cut output columns) and
-- cut: text to %(cut)s characters, the arguments (positional, and keyword ones when there
-- are any) to %(args_cut)s, so a page stays small whatever a row holds. %(limit)s is the page size plus one (to know whether a next page exists).
SELECT id, left(queue, %(cut)s) AS queue, left(class_name, %(cut)s) AS class_name,
       left(name, %(cut)s) AS name, left(status, %(cut)s) AS status, created_at, started_at,
       finished_at, {duration} AS duration, left(args::text, %(args_cut)s) AS args_preview,
       CASE WHEN kwargs <> jsonb_build_object() THEN left(kwargs::text, %(args_cut)s) END
           AS kwargs_preview,
       priority, cancel_requested_at
  FROM ({rows}) AS toro_jobs
 ORDER BY {order}
 LIMIT %(limit)s;

-- name: list_rows
-- The rows of one page matching the filters (which name a status), walking an index in order.
SELECT id, queue, class_name, name, status, created_at, started_at, finished_at, args,
       kwargs, priority, cancel_requested_at
  FROM toro_jobs
 WHERE {where}
 ORDER BY {order}
 LIMIT %(limit)s

-- name: list_rows_split
-- The rows of one page matching the filters (any status): the first of each side in order.
-- The running jobs are collected whole before they are sorted (OFFSET 0): there are at most
-- as many as the processes' slots, wherever their ids are, so the cost stays that of reading
-- them through toro_jobs_running, never a walk of the primary key looking for old ones.
(SELECT id, queue, class_name, name, status, created_at, started_at, finished_at, args,
       kwargs, priority, cancel_requested_at
   FROM toro_jobs
  WHERE {where} AND status <> 'running'
  ORDER BY {order}
  LIMIT %(limit)s)
UNION ALL
(SELECT id, queue, class_name, name, status, created_at, started_at, finished_at, args,
       kwargs, priority, cancel_requested_at
   FROM (SELECT id, queue, class_name, name, status, created_at, started_at, finished_at, args,
       kwargs, priority, cancel_requested_at
           FROM toro_jobs
          WHERE {where} AND status = 'running'
         OFFSET 0) AS toro_jobs
  ORDER BY {order}
  LIMIT %(limit)s)

-- name: list_rows_few
-- list_rows for filters that match few jobs (the caller counted them first): every matching
-- row is collected before the page sorts them (OFFSET 0 keeps the planner from merging the
-- two), so it cannot bet on meeting them early while walking an index in sort order, a bet
-- that costs a walk of the whole table when they are rare or absent.
SELECT id, queue, class_name, name, status, created_at, started_at, finished_at, args,
       kwargs, priority, cancel_requested_at
  FROM toro_jobs
 WHERE {where}
OFFSET 0

-- name: list_rows_few_split
-- list_rows_few over both sides.
(SELECT id, queue, class_name, name, status, created_at, started_at, finished_at, args,
       kwargs, priority, cancel_requested_at
   FROM toro_jobs
  WHERE {where} AND status <> 'running'
 OFFSET 0)
UNION ALL
(SELECT id, queue, class_name, name, status, created_at, started_at, finished_at, args,
       kwargs, priority, cancel_requested_at
   FROM toro_jobs
  WHERE {where} AND status = 'running'
 OFFSET 0)

-- name: count_jobs_bounded
-- How many jobs match the filters (which name a status), counting no further than %(cap)s.
SELECT count(*) AS jobs FROM (SELECT 1 FROM toro_jobs WHERE {where} LIMIT %(cap)s) AS capped;

-- name: count_jobs_bounded_split
-- count_jobs_bounded over both sides (each counted no further than %(cap)s).
SELECT count(*) AS jobs
  FROM ((SELECT 1 FROM toro_jobs WHERE {where} AND status <> 'running' LIMIT %(cap)s)
        UNION ALL
        (SELECT 1 FROM toro_jobs WHERE {where} AND status = 'running' LIMIT %(cap)s)) AS capped;

-- name: estimate_jobs
-- The planner's estimate of how many jobs match {where} (read from EXPLAIN's JSON).
EXPLAIN (FORMAT JSON) SELECT 1 FROM toro_jobs WHERE {where};

-- name: status_sizes
-- For each status: how many jobs have it, counted no further than %(cap)s (index-only on
-- toro_monitor_jobs_status_at_rest, or on toro_jobs_running for the running ones), so the
-- caller knows which statuses it may count exactly.
SELECT s.status,
       CASE WHEN s.status = 'running'
            THEN (SELECT count(*) FROM (SELECT 1 FROM toro_jobs AS j WHERE j.status = 'running'
                                         LIMIT %(cap)s) AS capped)
            ELSE (SELECT count(*) FROM (SELECT 1 FROM toro_jobs AS j
                                         WHERE j.status COLLATE "C" = s.status
                                           AND j.status <> 'running'
                                         LIMIT %(cap)s) AS capped)
       END AS jobs
  FROM unnest(%(statuses)s::text[]) AS s(status);

-- name: queue_status_all
-- Exact job counts per queue and status (for a small table). Queue names are cut to %(cut)s
-- characters here and below: queues whose names share that prefix are counted together.
SELECT left(queue, %(cut)s) AS queue, left(status, %(cut)s) AS status, count(*) AS jobs
  FROM toro_jobs
 GROUP BY 1, 2;

-- name: queue_status_exact
-- Exact job counts per queue for the given (small) statuses.
SELECT left(queue, %(cut)s) AS queue, status, count(*) AS jobs
  FROM toro_jobs
 WHERE status COLLATE "C" = ANY(%(statuses)s::text[]) AND status <> 'running'
 GROUP BY 1, 2
UNION ALL
SELECT left(queue, %(cut)s), status, count(*)
  FROM toro_jobs
 WHERE status = 'running' AND 'running' = ANY(%(statuses)s::text[])
 GROUP BY 1, 2;

-- name: queue_status_sampled
-- Job counts per queue and status estimated from a block sample of %(percent)s percent of
-- the table (the same blocks each time, so the numbers do not jitter between refreshes).
-- Statuses in %(exclude)s are left out: the caller counts those exactly.
SELECT left(queue, %(cut)s) AS queue, left(status, %(cut)s) AS status,
       count(*) * 100.0 / %(percent)s AS jobs
  FROM toro_jobs TABLESAMPLE SYSTEM (%(percent)s) REPEATABLE (7)
 WHERE NOT (status = ANY(%(exclude)s::text[]))
 GROUP BY 1, 2;

-- name: distinct_queues
-- The queue names in toro_jobs, by a skip scan of the toro_monitor_jobs_queue_at_rest index,
-- and those the live processes serve (a running job's queue is one of them), cut to %(cut)s
-- characters.
WITH RECURSIVE q(queue) AS (
    (SELECT queue FROM toro_jobs WHERE status <> 'running' ORDER BY queue COLLATE "C" LIMIT 1)
    UNION ALL
    SELECT (SELECT queue FROM toro_jobs
             WHERE queue COLLATE "C" > q.queue AND status <> 'running'
             ORDER BY queue COLLATE "C" LIMIT 1)
      FROM q WHERE q.queue IS NOT NULL
)
SELECT left(queue, %(cut)s) AS queue
  FROM (SELECT queue FROM q WHERE queue IS NOT NULL
        UNION
        SELECT unnest(queues) FROM toro_processes) AS names
 ORDER BY 1
 LIMIT %(limit)s;

-- name: distinct_classes
-- The worker class names of the jobs at rest (every status but running: a class shows once one
-- of its jobs has waited or finished), by a skip scan of the toro_monitor_jobs_class_at_rest
-- index, cut to %(cut)s characters.
WITH RECURSIVE c(class_name) AS (
    (SELECT class_name FROM toro_jobs
      WHERE status <> 'running' ORDER BY class_name COLLATE "C" LIMIT 1)
    UNION ALL
    SELECT (SELECT class_name FROM toro_jobs
             WHERE class_name COLLATE "C" > c.class_name AND status <> 'running'
             ORDER BY class_name COLLATE "C" LIMIT 1)
      FROM c WHERE c.class_name IS NOT NULL
)
SELECT left(class_name, %(cut)s) AS class_name FROM c WHERE class_name IS NOT NULL
 LIMIT %(limit)s;

-- name: get_job
-- One job with everything the detail view shows (the page cuts and folds long values).
SELECT id, queue, class_name, args, name, created_at, scheduled_at, started_at, finished_at,
       status, started_by, properties, attempt, kwargs, priority, unique_key,
       cancel_requested_at, limit_key,
       CASE WHEN isfinite(started_at) AND isfinite(finished_at)
            THEN finished_at - started_at END AS duration,
       left(args::text, %(args_cut)s) AS args_preview, result
  FROM toro_jobs WHERE id = %(id)s;

-- name: jobs_by_ids
-- Short rows of the given jobs (the processes page lists what each process runs), text cut
-- to %(cut)s characters.
SELECT id, left(class_name, %(cut)s) AS class_name, left(name, %(cut)s) AS name,
       CASE WHEN isfinite(started_at) THEN now() - started_at END AS running_for
  FROM toro_jobs WHERE id = ANY(%(ids)s::bigint[]) ORDER BY id;

-- name: bulk_count
-- For a bulk action's confirmation: how many jobs in %(statuses)s match {where} (the jobs
-- list's filters), counting no further than %(cap)s, and the newest one's id (the action then
-- touches no job queued after the count). Walks the newest first, as the action does.
SELECT count(*) AS jobs, max(id) AS newest
  FROM (SELECT id FROM toro_jobs
         WHERE {where} AND status = ANY(%(statuses)s::text[])
         ORDER BY id DESC
         LIMIT %(cap)s) AS capped;

-- name: bulk_ids
-- The jobs a confirmed bulk action applies to: in %(statuses)s, matching {where}, not newer
-- than %(upto)s (the newest counted), newest first, at most %(limit)s.
SELECT id FROM toro_jobs
 WHERE {where} AND status = ANY(%(statuses)s::text[]) AND id <= %(upto)s
 ORDER BY id DESC
 LIMIT %(limit)s;

-- name: local_settings
-- Behind PgBouncer in transaction mode, whose connections cannot carry startup options: the
-- same settings for the rest of this transaction (the statement timeout, %(timeout)s
-- milliseconds, and JIT off; see MonitorStore).
SELECT set_config('statement_timeout', %(timeout)s, true), set_config('jit', 'off', true);
