-- toro-core 0002: the registry of live worker processes.
CREATE TABLE toro_processes (
    id           uuid        PRIMARY KEY,
    host         text        NOT NULL,
    pid          integer     NOT NULL,
    queues       text[]      NOT NULL,
    concurrency  integer     NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    meta         jsonb       NOT NULL DEFAULT '{}'
);
