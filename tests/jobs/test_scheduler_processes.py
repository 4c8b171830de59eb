"""Two scheduler processes on PostgreSQL, for minutes: never the same job at once, every due run done.

Real subprocesses (tests/jobs/scheduler_process.py) share one database on accelerated schedules;
halfway through, the leader is stopped and a fresh process started, so the run covers a takeover
and a restart too. SCHEDULER_SOAK_SECONDS sets the length (150 s by default).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from database.times import parse_time
from state.leases import JobLease, JobRun

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
# name: (interval, duration) in seconds; intervals long enough that a loaded CI machine's database
# latency (a second or more per lease check) stays well inside the half-tick the due check allows.
JOBS = {"quick": (6.0, 2.0), "slow": (10.0, 4.0), "daily": (15.0, 0.2)}
SOAK = float(os.environ.get("SCHEDULER_SOAK_SECONDS", "150"))


def start(url: str, holder: str) -> subprocess.Popen[bytes]:
    specs = [f"{name}={interval}:{duration}" for name, (interval, duration) in JOBS.items()]
    return subprocess.Popen([sys.executable, str(HERE / "scheduler_process.py"), url, holder, *specs],
                            env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    _, errors = process.communicate(timeout=30)
    assert process.returncode == 0, errors.decode()[-2000:]


def leader(db) -> str:
    with Session(db) as session:
        return session.scalar(select(JobLease.holder).where(JobLease.name == "scheduler"))


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.timeout(SOAK + 120)
def test_two_scheduler_processes_never_overlap_a_job_and_miss_no_due_run(db, database_url):
    if db.dialect.name != "postgresql":
        pytest.skip("several scheduler processes are a PostgreSQL deployment (SQLite: one process)")
    processes = {"a": start(database_url, "a")}
    try:
        time.sleep(1)
        processes["b"] = start(database_url, "b")
        time.sleep(SOAK / 2)
        first_leader = leader(db)
        stop(processes[first_leader])
        del processes[first_leader]
        processes["c"] = start(database_url, "c")      # a restart: it must not run at once what just ran
        time.sleep(SOAK / 2)
        stopped = datetime.now(timezone.utc)
        for name in list(processes):
            stop(processes[name])
            del processes[name]
    finally:
        for process in processes.values():   # a failed stop leaves no scheduler behind
            if process.poll() is None:
                process.kill()
                process.wait(10)

    with Session(db) as session:
        runs = session.scalars(select(JobRun).order_by(JobRun.job, JobRun.started_at)).all()
    assert runs and all(run.outcome == "ok" for run in runs)
    assert first_leader in {run.holder for run in runs} and len({run.holder for run in runs}) >= 2   # a takeover
    for name, (interval, _) in JOBS.items():
        mine = [(parse_time(r.started_at), parse_time(r.finished_at)) for r in runs if r.job == name]
        overlaps = [(a, b) for a, b in zip(mine, mine[1:]) if b[0] < a[1]]
        assert overlaps == [], f"{name}: a run started before the previous one finished"
        gaps = [b[0] - a[0] for a, b in zip(mine, mine[1:])]
        assert min(gaps) >= timedelta(seconds=interval / 2), f"{name}: run twice within an interval"
        # A takeover may cost one tick (here an interval): the standby's tick can fall while the leader
        # is still stopping; its next one runs the job. Never more.
        assert max(gaps) <= timedelta(seconds=interval * 2 + 1), f"{name}: more than one due run was missed"
        due = (stopped - mine[0][0]).total_seconds() / interval      # from the first run: start-up is not a miss
        assert due - 2 <= len(mine) <= due + 1, f"{name}: {len(mine)} runs, {due:.1f} due"
