-- toro-monitor's queries. Each block starts with "-- name:"; parameters are %(name)s.
-- Blocks with {placeholders} are templates: the monitor fills them with fixed SQL fragments
-- (filters and sort orders chosen from fixed lists, never text from a request).

-- The monitor's index of toro_jobs (toro_monitor_jobs_at_rest, migration 0004) leaves out
-- running jobs: a query over every status is split in two, the jobs at rest (status <>
-- 'running') and the running ones (status = 'running', the kernel's toro_jobs_running: at most
-- as many as the processes' slots), and the two are merged. A query for one status reads one
-- side. The index holds status, queue and class_name in the "C" collation, which the conditions
-- and orders meant for it name (COLLATE "C"); the predicates are written out as they are,
-- since a condition in another collation proves none.
--
-- Its key is (status, queue, class_name, id): the jobs of one group, a (status, queue, class)
-- present in the table, are a range in id order. PostgreSQL 15 cannot skip through the leading
-- columns of an index, so the monitor does it itself: `groups` finds the groups a filter
-- matches (one descent each), and the lists, counts and bulk actions read each group's range
-- (the `_grouped` queries, given the groups as three arrays) and merge.

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

-- name: with_running
-- The rows {at_rest} selects (of the jobs at rest) and the first running jobs matching {where}
-- in the page's order, for a list over every status. The running jobs are collected whole
-- before they are sorted (OFFSET 0): there are at most as many as the processes' slots,
-- wherever their ids are, so the cost stays that of reading them through toro_jobs_running,
-- never a walk of the primary key looking for old ones.
({at_rest})
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

-- name: groups
-- The groups of the jobs at rest ((status, queue, class_name) present in toro_jobs) that
-- {matching} keeps, found by a walk of toro_monitor_jobs_at_rest that descends once per group:
-- from the first at or after {start}, on while the group before is {within} (a status filter
-- is a range of the index: the walk stays in it). At most %(limit)s (NULL: all).
WITH RECURSIVE g(status, queue, class_name) AS (
    (SELECT status, queue, class_name FROM toro_jobs
      WHERE status <> 'running' AND {start}
      ORDER BY status COLLATE "C", queue COLLATE "C", class_name COLLATE "C"
      LIMIT 1)
    UNION ALL
    SELECT n.status, n.queue, n.class_name
      FROM g CROSS JOIN LATERAL (
           SELECT t.status, t.queue, t.class_name FROM toro_jobs AS t
            WHERE t.status <> 'running'
              AND (t.status COLLATE "C", t.queue COLLATE "C", t.class_name COLLATE "C")
                  > (g.status, g.queue, g.class_name)
            ORDER BY t.status COLLATE "C", t.queue COLLATE "C", t.class_name COLLATE "C"
            LIMIT 1) AS n
     WHERE {within}
)
SELECT status, queue, class_name FROM g WHERE {matching} LIMIT %(limit)s;

-- name: list_rows_grouped
-- The rows of one page from the groups in %(g_status)s, %(g_queue)s and %(g_class)s: each
-- group's first %(limit)s in id order past {bound} (the keyset cursor, as a bound on the id
-- within the group), of the groups {group_filter} keeps, merged in {group_order}; then the
-- rows themselves (only these are read from the table).
SELECT j.id, j.queue, j.class_name, j.name, j.status, j.created_at, j.started_at,
       j.finished_at, j.args, j.kwargs, j.priority, j.cancel_requested_at
  FROM (SELECT x.id
          FROM unnest(%(g_status)s::text[], %(g_queue)s::text[], %(g_class)s::text[])
               AS g(status, queue, class_name)
               CROSS JOIN LATERAL (
               SELECT t.id FROM toro_jobs AS t
                WHERE t.status COLLATE "C" = g.status AND t.queue COLLATE "C" = g.queue
                  AND t.class_name COLLATE "C" = g.class_name AND t.status <> 'running'
                  AND {bound}
                ORDER BY t.id {direction}
                LIMIT %(limit)s) AS x
         WHERE {group_filter}
         ORDER BY {group_order}
         LIMIT %(limit)s) AS ids
  JOIN toro_jobs AS j ON j.id = ids.id

-- name: count_grouped
-- How many jobs the groups in %(g_status)s, %(g_queue)s and %(g_class)s hold, counting no
-- further than %(cap)s (the walk stops there), and how many running jobs match {running}
-- (FALSE when the filter names another status), counted no further than %(cap)s either.
SELECT (SELECT count(*)
          FROM (SELECT 1
                  FROM unnest(%(g_status)s::text[], %(g_queue)s::text[], %(g_class)s::text[])
                       AS g(status, queue, class_name)
                       CROSS JOIN LATERAL (
                       SELECT 1 FROM toro_jobs AS t
                        WHERE t.status COLLATE "C" = g.status AND t.queue COLLATE "C" = g.queue
                          AND t.class_name COLLATE "C" = g.class_name
                          AND t.status <> 'running'
                        LIMIT %(cap)s) AS x
                 LIMIT %(cap)s) AS capped)
       + (SELECT count(*)
            FROM (SELECT 1 FROM toro_jobs WHERE {running} AND status = 'running'
                  LIMIT %(cap)s) AS capped) AS jobs;

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
-- a range of toro_monitor_jobs_at_rest, or on toro_jobs_running for the running ones), so the
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
-- The queue names in toro_jobs (those of the groups found by the caller, in %(g_queue)s) and
-- those the live processes serve (a running job's queue is one of them), cut to %(cut)s
-- characters.
SELECT left(queue, %(cut)s) AS queue
  FROM (SELECT unnest(%(g_queue)s::text[]) AS queue
        UNION
        SELECT unnest(queues) FROM toro_processes) AS names
 ORDER BY 1
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
-- For a bulk action's confirmation: how many jobs the groups in %(g_status)s, %(g_queue)s and
-- %(g_class)s hold (the statuses of the action matching the jobs list's filters) and match
-- {search} (the list's search, or TRUE), counting no further than %(cap)s, and the newest
-- one's id (the action then touches no job queued after the count).
WITH g AS (
    SELECT * FROM unnest(%(g_status)s::text[], %(g_queue)s::text[], %(g_class)s::text[])
                  AS g(status, queue, class_name)
)
SELECT (SELECT count(*)
          FROM (SELECT 1 FROM g CROSS JOIN LATERAL (
                       SELECT 1 FROM toro_jobs AS t
                        WHERE t.status COLLATE "C" = g.status AND t.queue COLLATE "C" = g.queue
                          AND t.class_name COLLATE "C" = g.class_name
                          AND t.status <> 'running' AND {search}
                        LIMIT %(cap)s) AS x
                 LIMIT %(cap)s) AS capped) AS jobs,
       (SELECT max(x.id) FROM g CROSS JOIN LATERAL (
               SELECT t.id FROM toro_jobs AS t
                WHERE t.status COLLATE "C" = g.status AND t.queue COLLATE "C" = g.queue
                  AND t.class_name COLLATE "C" = g.class_name AND t.status <> 'running'
                  AND {search}
                ORDER BY t.id DESC
                LIMIT 1) AS x) AS newest;

-- name: bulk_ids
-- The jobs a confirmed bulk action applies to: the ids of the rows {rows} selects
-- (list_rows_grouped over the action's groups, newest first, bounded by the newest counted).
SELECT id FROM ({rows}) AS j ORDER BY id DESC;

-- name: local_settings
-- Behind PgBouncer in transaction mode, whose connections cannot carry startup options: the
-- same settings for the rest of this transaction (the statement timeout, %(timeout)s
-- milliseconds, and JIT off; see MonitorStore).
SELECT set_config('statement_timeout', %(timeout)s, true), set_config('jit', 'off', true);
