-- toro-properties' queries. Each block starts with "-- name:"; parameters are %(name)s.

-- name: list_property_indexes
-- The expression indexes on toro_jobs made by toro-properties, recognised by their comment
-- ("toro-properties: {json}"). Invalid ones (a failed concurrent build) are listed too: their
-- expressions may still be computed on writes.
SELECT c.relname AS name,
       obj_description(c.oid, 'pg_class') AS comment,
       i.indisvalid AS valid,
       pg_get_indexdef(c.oid) AS definition
  FROM pg_index AS i
  JOIN pg_class AS c ON c.oid = i.indexrelid
 WHERE i.indrelid = to_regclass('toro_jobs')
   AND obj_description(c.oid, 'pg_class') LIKE 'toro-properties:%%'
 ORDER BY c.relname;

-- name: index_state
-- Whether index %(name)s exists on toro_jobs, and whether it is valid.
SELECT i.indisvalid AS valid
  FROM pg_index AS i
  JOIN pg_class AS c ON c.oid = i.indexrelid
 WHERE i.indrelid = to_regclass('toro_jobs')
   AND c.relname = %(name)s;

-- name: jobs_table_exists
-- Whether toro_jobs is visible on the search path.
SELECT to_regclass('toro_jobs') IS NOT NULL AS exists;
