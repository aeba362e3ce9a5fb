-- toro-core 0006: headers carried with a job from its enqueue to its attempts.
-- A JSON object of strings that the job_headers hook returns at enqueue (a tracing plugin's
-- W3C trace context: traceparent, tracestate); NULL when no plugin sets any, so jobs without
-- headers cost nothing. Adding a column without a default rewrites nothing: instant on any
-- table size.
ALTER TABLE toro_jobs ADD COLUMN IF NOT EXISTS headers jsonb;
