"""The scheduler: subscription renewal, mailbox delta rounds, reconciliation, checkpoints and the
working state's retention, on APScheduler 3.

Any number of `bookings-ledger scheduler` processes may run; only the one holding the
`scheduler` lease (ledger/leases.py) does any work, so no job ever runs twice. The holder extends
the lease every HEARTBEAT; if it dies, another takes over within LEASE_TTL. Every run is recorded
in `job_runs` with its outcome and figures, and each job resumes from the database's state, so a
crash costs at most a repeat of the interrupted run (which the jobs make harmless).
"""
from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from jobs import gaps
from jobs.metrics import JobMetrics
from ledger.transactions import Ledger
from state.leases import acquire_lease, finish_run, last_heartbeat, release_lease, start_run
from state.working_state_retention import WorkingStateRetention, purge_working_state
from database.times import parse_time

log = logging.getLogger(__name__)
LEASE = "scheduler"
HEARTBEAT = timedelta(seconds=20)
LEASE_TTL = timedelta(seconds=60)           # three missed heartbeats before another instance takes over
DOWNTIME_TOLERANCE = timedelta(hours=4)     # Graph retries undelivered notifications for 4 hours (§2.6)
RENEWAL_INTERVAL = timedelta(hours=1)       # far inside the renewal margin: a few missed runs lose nothing
CHECKPOINT_INTERVAL = timedelta(hours=1)
BACKFILL_INTERVAL = timedelta(minutes=5)
PURGE_INTERVAL = timedelta(hours=1)         # small, frequent purges: each deletes about an hour's rows
# First run one interval after start, not at once: a first round opens each business's delta link
# with a sweep of its own, which must not compete with the `reconcile` sweep every start begins with.
FIRST_RUN_AFTER_INTERVAL = frozenset({"follow-calendars"})

Job = Callable[[], Mapping[str, Any]]


class LeasedRunner:
    """Runs named jobs only while this process holds the scheduler lease, recording each run."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime], holder: str | None = None,
                 metrics: JobMetrics | None = None) -> None:
        self.engine, self.clock = engine, clock
        self.holder = holder or f"scheduler-{secrets.token_hex(6)}"
        self.metrics = metrics or JobMetrics()

    def is_leader(self) -> bool:
        """Take or extend the lease; whether this process is the one that works."""
        return acquire_lease(self.engine, LEASE, self.holder, self.clock(), LEASE_TTL)

    def run(self, name: str, job: Job) -> str:
        """Run `job` if leader; returns "skipped", "ok" or "failed" (the run's record says more)."""
        outcome = self._run(name, job)
        self.metrics.job_runs.labels(name, outcome).inc()
        return outcome

    def _run(self, name: str, job: Job) -> str:
        if not self.is_leader():
            return "skipped"
        run_id = start_run(self.engine, name, self.holder, self.clock())
        try:
            detail = dict(job())
        except Exception as exc:
            # Logged and recorded, not raised: the next run starts over from the database's state.
            # The class only: a driver's message can quote the row it refused (PostgreSQL's
            # "Failing row contains (...)"), and rows hold personal data.
            log.error("job %s failed (run %s): %s", name, run_id, type(exc).__name__)
            finish_run(self.engine, run_id, self.clock(), outcome="failed", detail={"error": type(exc).__name__})
            return "failed"
        finish_run(self.engine, run_id, self.clock(), outcome="ok", detail=detail)
        return "ok"

    def release(self) -> None:
        """Give the lease up, so a standby instance takes over at once."""
        release_lease(self.engine, LEASE, self.holder, self.clock())


def record_downtime(ledger: Ledger, businesses: list[str]) -> list[int]:
    """Record a gap for each business if the scheduler was silent longer than Graph retries for."""
    last = last_heartbeat(ledger.engine, LEASE)
    now = ledger.clock()
    if last is None or now - parse_time(last) <= DOWNTIME_TOLERANCE:
        return []
    return [gaps.record(ledger, business_id, reason="downtime", start=parse_time(last), end=now)
            for business_id in businesses]


def build_scheduler(runner: LeasedRunner, jobs: Mapping[str, tuple[Job, timedelta]],
                    scheduler: BlockingScheduler | None = None) -> BlockingScheduler:
    """A scheduler running each job (name -> (job, interval)) through `runner`, first at once."""
    scheduler = scheduler or BlockingScheduler(timezone="UTC")
    scheduler.add_job(runner.is_leader, IntervalTrigger(seconds=HEARTBEAT.total_seconds()), id="heartbeat",
                      max_instances=1, coalesce=True)
    for name, (job, interval) in jobs.items():
        first = datetime.now().astimezone() + (interval if name in FIRST_RUN_AFTER_INTERVAL else timedelta(0))
        scheduler.add_job(runner.run, IntervalTrigger(seconds=interval.total_seconds()), args=(name, job), id=name,
                          max_instances=1, coalesce=True, next_run_time=first,
                          misfire_grace_time=int(interval.total_seconds()))
    return scheduler


@dataclass(frozen=True)
class JobSchedule:
    """The intervals and ages the settings choose (bookings_ledger.wiring.schedule_from_settings)."""

    reconcile: timedelta
    delta: timedelta
    retention: WorkingStateRetention


def service_jobs(services: Any, checkpoint: Job, schedule: JobSchedule) -> dict[str, tuple[Job, timedelta]]:
    """The scheduler's jobs over a `bookings_ledger.wiring.SyncServices`: renewal, delta rounds, sweeps,
    back-fills, checkpoints and the working state's purge."""

    def renew() -> Mapping[str, Any]:
        return services.subscriptions.ensure_all().as_dict()

    def reconcile() -> Mapping[str, Any]:
        return {"sweeps": [r.as_dict() for r in services.reconciler.reconcile_all(services.businesses)]}

    def backfill() -> Mapping[str, Any]:
        # Gaps are back-filled within minutes, not at the next full reconciliation.
        pending = gaps.businesses_with_open_gaps(services.ledger.engine, services.businesses)
        return {"sweeps": [r.as_dict() for r in services.reconciler.reconcile_all(pending)]}

    def follow() -> Mapping[str, Any]:
        # Between full sweeps: keeps each watermark minutes behind Graph at a request a round.
        return {"rounds": [r.as_dict() for r in services.delta.follow_all(services.businesses)]}

    def purge() -> Mapping[str, Any]:
        return purge_working_state(services.ledger.engine, services.ledger.clock(), schedule.retention)

    return {
        "renew-subscriptions": (renew, RENEWAL_INTERVAL),
        "follow-calendars": (follow, schedule.delta),
        "backfill-gaps": (backfill, BACKFILL_INTERVAL),
        "reconcile": (reconcile, schedule.reconcile),
        "checkpoint": (checkpoint, CHECKPOINT_INTERVAL),
        "purge-working-state": (purge, PURGE_INTERVAL),
    }
