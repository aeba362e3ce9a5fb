"""Chaos run: kill -9 (and freeze) random workers while they run 10,000 jobs; count the damage.

    .venv/bin/python scripts/chaos.py                 # 10,000 jobs, 4 workers, about a minute
    .venv/bin/python scripts/chaos.py --jobs 2000 --no-freeze

It creates a scratch database on the server (``--server``, default ``$TORO_TEST_DATABASE_URL``
or 127.0.0.1:5432), enqueues ``--jobs`` jobs that record every start in ``test_executions``
and sleep a little, and runs ``--workers`` worker processes with a short heartbeat (0.5 s)
and death timeout (3 s). Every one to three seconds it picks a random worker and either
kills it with SIGKILL and starts a replacement, or (every ``--freeze-every``-th time) freezes
it with SIGSTOP for longer than the death timeout and lets it go on, so that it comes back
fenced out. A trigger records every outcome the database accepts.

It prints, and checks:

* jobs lost: jobs not complete at the end (must be 0);
* jobs completed more than once, and outcomes accepted from a holder that had lost the job
  (a fenced-out worker): both must be 0;
* extra executions (starts beyond one per job), which must not exceed the jobs in flight
  (held by the victim) at the kills and freezes.

Exit code 0 when every check holds, 1 otherwise. Worker logs stay in a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from durability_workers import EXECUTIONS_DDL, RecordedSleep  # noqa: E402

from toro_core import Toro, migrate  # noqa: E402
from toro_core.testing import with_database  # noqa: E402

HEARTBEAT, DEAD_AFTER = 0.5, 3.0


@dataclass
class Worker:
    popen: subprocess.Popen[bytes]
    log: Path
    frozen_until: float | None = None

    @property
    def identity(self) -> str:
        return f"{socket.gethostname()}:{self.popen.pid}"


@dataclass
class Run:
    database: str
    logs: Path
    concurrency: int
    workers: list[Worker] = field(default_factory=list)
    retired: list[Worker] = field(default_factory=list)
    started = 0

    def spawn(self) -> Worker:
        env = dict(os.environ)
        env.update(
            TORO_DATABASE_URL=self.database,
            DURABILITY_RECORD_URL=self.database,
            TORO_PLUGINS="",
            PYTHONPATH=os.pathsep.join([str(ROOT / "tests"), env.get("PYTHONPATH", "")]),
            PYTHONUNBUFFERED="1",
        )
        log = self.logs / f"worker-{self.started}.log"
        self.started += 1
        command = [
            sys.executable,
            "-m",
            "toro_core",
            "start",
            "-r",
            "durability_workers",
            "-c",
            str(self.concurrency),
            "--heartbeat-interval",
            str(HEARTBEAT),
            "--dead-after",
            str(DEAD_AFTER),
        ]
        with open(log, "wb") as out:
            popen = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        worker = Worker(popen, log)
        self.workers.append(worker)
        return worker

    def held_by(self, worker: Worker) -> int:
        return count(
            self.database,
            "SELECT count(*) FROM toro_jobs WHERE status = 'running' AND started_by = %s",
            (worker.identity,),
        )


def count(database: str, sql: str, params: tuple[object, ...] = ()) -> int:
    with psycopg.connect(database, autocommit=True) as conn:
        row = conn.execute(sql, params).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def create_database(server: str, name: str) -> str:
    """Create and migrate the scratch database ``name``; return its conninfo."""
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    database = with_database(server, name)
    app = Toro(database, load_entry_points=False)
    migrate.apply(database, app.migrations())
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(EXECUTIONS_DDL)
    return database


def enqueue(database: str, jobs: int, rng: random.Random) -> None:
    app = Toro(database, load_entry_points=False)
    try:
        for start in range(0, jobs, 2000):
            batch = [
                (i, round(rng.uniform(0.1, 0.7), 3)) for i in range(start, min(jobs, start + 2000))
            ]
            app.client.enqueue_bulk(RecordedSleep, batch)
    finally:
        app.close()


def chaos(
    run: Run, jobs: int, freeze_every: int, rng: random.Random, limit: float
) -> tuple[int, int, int]:
    """Kill or freeze workers until every job is complete; return kills, freezes, in flight."""
    began = time.monotonic()
    kills = freezes = in_flight = 0
    next_event = began + rng.uniform(1, 3)
    events = 0
    while True:
        now = time.monotonic()
        for worker in run.workers:
            if worker.frozen_until is not None and now >= worker.frozen_until:
                worker.popen.send_signal(signal.SIGCONT)
                worker.frozen_until = None
                print(f"{now - began:6.1f}s  SIGCONT {worker.identity}", flush=True)
        done = count(run.database, "SELECT count(*) FROM toro_jobs WHERE status = 'complete'")
        if done == jobs and all(w.frozen_until is None for w in run.workers):
            return kills, freezes, in_flight
        if now - began > limit:
            print(f"giving up after {limit:.0f}s with {jobs - done} jobs not complete")
            return kills, freezes, in_flight
        if now >= next_event and done < jobs:
            events += 1
            candidates = [w for w in run.workers if w.frozen_until is None]
            victim = rng.choice(candidates)
            if freeze_every and events % freeze_every == 0 and len(candidates) > 1:
                victim.popen.send_signal(signal.SIGSTOP)
                victim.frozen_until = now + DEAD_AFTER + 1.5
                held = run.held_by(victim)
                freezes += 1
                print(
                    f"{now - began:6.1f}s  SIGSTOP {victim.identity} holding {held} jobs "
                    f"({done} complete)",
                    flush=True,
                )
            else:
                victim.popen.send_signal(signal.SIGKILL)
                victim.popen.wait()
                run.workers.remove(victim)
                run.retired.append(victim)
                held = run.held_by(victim)
                kills += 1
                replacement = run.spawn()
                print(
                    f"{now - began:6.1f}s  kill -9 {victim.identity} holding {held} jobs "
                    f"({done} complete); started {replacement.identity}",
                    flush=True,
                )
            in_flight += held
            next_event = time.monotonic() + rng.uniform(1, 3)
        time.sleep(0.1)


def report(run: Run, jobs: int, kills: int, freezes: int, in_flight: int, seconds: float) -> bool:
    db = run.database
    with psycopg.connect(db, autocommit=True) as conn:
        statuses: dict[str, int] = dict(
            conn.execute("SELECT status, count(*) FROM toro_jobs GROUP BY status").fetchall()
        )
    lost = jobs - statuses.get("complete", 0)
    executions = count(db, "SELECT count(*) FROM test_executions")
    executed = count(db, "SELECT count(DISTINCT marker) FROM test_executions")
    twice = count(
        db,
        "SELECT count(*) FROM (SELECT job_id FROM test_completions GROUP BY job_id"
        " HAVING count(*) > 1) AS t",
    )
    stale = count(
        db,
        "SELECT count(*) FROM test_completions AS c JOIN toro_jobs AS j ON j.id = c.job_id"
        " WHERE c.attempt <> j.attempt",
    )
    recovered = count(
        db,
        "SELECT sum((properties->>'recovered:count')::int) FROM toro_jobs"
        " WHERE properties ? 'recovered:count'",
    )
    refused = sum(
        int(line.split("outcomes of ")[1].split()[0])
        for worker in run.workers + run.retired
        for line in worker.log.read_text(errors="replace").splitlines()
        if "toro.outcomes: outcomes of " in line
    )
    extra = executions - executed
    print()
    print(
        f"jobs                         {jobs:>8,}   "
        f"({seconds:.0f} s, {run.started} worker processes)"
    )
    print(f"kill -9 / freezes            {kills:>8} / {freezes}")
    print(f"statuses                     {statuses}")
    print(f"recoveries (recovered:count) {recovered:>8,}")
    print(f"stale outcomes refused       {refused:>8,}   (logged by fenced-out workers)")
    print(f"jobs lost                    {lost:>8,}   (must be 0)")
    print(f"completed more than once     {twice:>8,}   (must be 0)")
    print(f"accepted from a stale holder {stale:>8,}   (must be 0)")
    print(f"executions                   {executions:>8,}   for {executed:,} jobs")
    print(
        f"extra executions             {extra:>8,}   (at most {in_flight:,}: jobs in flight at "
        "the kills and freezes)"
    )
    ok = lost == 0 and twice == 0 and stale == 0 and executed == jobs and extra <= in_flight
    print("PASS" if ok else "FAIL")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--server",
        default=os.environ.get(
            "TORO_TEST_DATABASE_URL", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
        ),
    )
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=25)
    parser.add_argument(
        "--freeze-every",
        type=int,
        default=4,
        help="every Nth event freezes instead of killing (0: kills only)",
    )
    parser.add_argument("--no-freeze", dest="freeze_every", action="store_const", const=0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--limit", type=float, default=300, help="give up after this many seconds")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    print(f"chaos: {args.jobs:,} jobs, {args.workers} workers x {args.concurrency}, seed {seed}")

    name = f"toro_chaos_{uuid.uuid4().hex[:10]}"
    database = create_database(args.server, name)
    logs = Path(tempfile.mkdtemp(prefix="toro-chaos-"))
    run = Run(database, logs, args.concurrency)
    try:
        enqueue(database, args.jobs, rng)
        began = time.monotonic()
        for _ in range(args.workers):
            run.spawn()
        kills, freezes, in_flight = chaos(run, args.jobs, args.freeze_every, rng, args.limit)
        seconds = time.monotonic() - began
        codes = []
        for worker in run.workers:  # a replacement may still be starting: let it
            deadline = time.monotonic() + 20
            while "running: queues" not in worker.log.read_text() and time.monotonic() < deadline:
                time.sleep(0.1)
            worker.popen.send_signal(signal.SIGTERM)
        for worker in run.workers:
            codes.append(worker.popen.wait(timeout=60))
        ok = report(run, args.jobs, kills, freezes, in_flight, seconds)
        print(f"workers stopped with exit codes {codes}; logs in {logs}")
        ok = ok and all(code == 0 for code in codes)
    finally:
        for worker in run.workers:
            if worker.popen.poll() is None:
                worker.popen.kill()
        if not args.keep:
            with psycopg.connect(args.server, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        else:
            print(f"database kept: {database}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
