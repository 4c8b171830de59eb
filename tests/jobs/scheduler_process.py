"""One scheduler process for tests/jobs/test_scheduler_processes.py: the real LeasedRunner and
build_scheduler on DATABASE_URL, with jobs that only take time, on accelerated intervals.

    python scheduler_process.py DATABASE_URL HOLDER JOB=INTERVAL_S:DURATION_S ...

SIGTERM stops it cleanly: the scheduler shuts down and the lease is released, as
`bookings-ledger scheduler` does on Ctrl-C.
"""
from __future__ import annotations

import signal
import sys
import time
from datetime import timedelta
from typing import Any

from database.engine import create_ledger_engine
from jobs.scheduler import LeasedRunner, build_scheduler
from ledger.transactions import utc_now


def busy(seconds: float) -> Any:
    def job() -> dict[str, float]:
        time.sleep(seconds)   # a job that takes a while: another process must not start it meanwhile
        return {"slept": seconds}
    return job


def main(url: str, holder: str, specs: list[str]) -> None:
    engine = create_ledger_engine(url)
    jobs = {}
    for spec in specs:
        name, timing = spec.split("=")
        interval, duration = (float(part) for part in timing.split(":"))
        jobs[name] = (busy(duration), timedelta(seconds=interval))
    runner = LeasedRunner(engine, utc_now, holder)
    scheduler = build_scheduler(runner, jobs)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=True))
    try:
        scheduler.start()
    finally:
        runner.release()
        engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
