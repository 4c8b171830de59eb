"""The scheduler: subscription renewal, mailbox delta rounds, reconciliation, checkpoints, retention
evaluation, anonymisation and the working state's purge, on APScheduler 3.

Any number of `bookings-ledger scheduler` processes may run; only the one holding the
`scheduler` lease (state/leases.py) does any work, so no job ever runs twice. The holder extends
the lease every HEARTBEAT; if it dies, another takes over within LEASE_TTL. Every run is recorded
in `job_runs` with its outcome and figures, and each job resumes from the database's state, so a
crash costs at most a repeat of the interrupted run (which the jobs make harmless).

When a job is due is decided by its `job_runs`, not by each process's own timer: the triggers
tick at most every CATCH_UP_TICK, and the leader runs a job whose last successful run started an
interval ago or more. So a standby that takes over, a restarted scheduler, or a run APScheduler
started late still keeps a daily job daily (a takeover costs at most a tick, never a day), and a
restart does not run a daily job twice. APScheduler 3's defaults would not (privacy-facts §6): a
misfire grace of 1 s drops a run its thread pool started 2 s late; here the grace is unlimited
(`None`) with `coalesce`, so a late run happens once, and the job-runs check makes it harmless.
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
from structlog.contextvars import bound_contextvars

from jobs import gaps
from jobs.metrics import JobMetrics
from jobs.request_contacts import forget_request_contacts
from jobs.request_mail import mail_pending
from jobs.requests.export import destroy_expired_exports
from ledger.transactions import Ledger
from state.leases import acquire_lease, finish_run, last_heartbeat, last_success, release_lease, start_run
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
EXPORT_EXPIRY_INTERVAL = timedelta(minutes=15)  # an expired archive's key outlives its link by at most this
CATCH_UP_TICK = timedelta(minutes=5)        # the longest a due job waits after a takeover or a restart
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

    def run(self, name: str, job: Job, every: timedelta | None = None) -> str:
        """Run `job` if leader (and, given `every`, if its last successful run started that long ago);
        returns "skipped" (not leader), "not-due", "ok" or "failed" (the run's record says more)."""
        outcome = self._run(name, job, every)
        self.metrics.job_runs.labels(name, outcome).inc()
        return outcome

    def _run(self, name: str, job: Job, every: timedelta | None) -> str:
        if not self.is_leader():
            return "skipped"
        if every is not None and not self._due(name, every):
            return "not-due"
        run_id = start_run(self.engine, name, self.holder, self.clock())
        # Every line the job logs, in whichever thread APScheduler runs it, names the job and the run.
        with bound_contextvars(job=name, run_id=run_id):
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
            log.info("job %s ok (run %s)", name, run_id)
            return "ok"

    def _due(self, name: str, every: timedelta) -> bool:
        last = last_success(self.engine, name)
        # Half a tick early counts as due: ticks and clock reads jitter by milliseconds, and a run
        # skipped for being 1 ms early would wait a whole tick.
        return last is None or self.clock() - parse_time(last) >= every - _tick(every) / 2

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


def _tick(interval: timedelta) -> timedelta:
    return min(interval, CATCH_UP_TICK)


def build_scheduler(runner: LeasedRunner, jobs: Mapping[str, tuple[Job, timedelta]],
                    scheduler: BlockingScheduler | None = None) -> BlockingScheduler:
    """A scheduler running each job (name -> (job, interval)) through `runner` once per interval, by
    its job runs (see the module's docstring); a first tick at once."""
    scheduler = scheduler or BlockingScheduler(timezone="UTC")
    scheduler.add_job(runner.is_leader, IntervalTrigger(seconds=HEARTBEAT.total_seconds()), id="heartbeat",
                      max_instances=1, coalesce=True)
    for name, (job, interval) in jobs.items():
        first = datetime.now().astimezone() + (interval if name in FIRST_RUN_AFTER_INTERVAL else timedelta(0))
        scheduler.add_job(runner.run, IntervalTrigger(seconds=_tick(interval).total_seconds()), args=(name, job, interval),
                          id=name, max_instances=1, coalesce=True, next_run_time=first, misfire_grace_time=None)
    return scheduler


@dataclass(frozen=True)
class JobSchedule:
    """The intervals and ages the settings choose (bookings_ledger.wiring.schedule_from_settings)."""

    reconcile: timedelta
    delta: timedelta
    retention: WorkingStateRetention
    evaluate_retention: timedelta
    anonymise: timedelta
    requests: timedelta = timedelta(minutes=5)
    request_contacts: timedelta = timedelta(days=30)   # a closed request's contact details kept this long


def service_jobs(services: Any, checkpoint: Job, schedule: JobSchedule) -> dict[str, tuple[Job, timedelta]]:
    """The scheduler's jobs over a `bookings_ledger.wiring.SyncServices`: renewal, delta rounds, sweeps,
    back-fills, checkpoints, retention evaluation, anonymisation, queued requests, the working state's purge,
    expired exports, closed requests' contact details, and with a privacy mailbox its catch-up, the request
    mail and the notices."""

    def renew() -> Mapping[str, Any]:
        return services.subscriptions.ensure_all().as_dict()

    def reconcile() -> Mapping[str, Any]:
        # Each sweep re-reads the businesses' time zones too: one call each, never one per record.
        zones = services.retention.zones.refresh(services.businesses)
        return {"zones": zones, "sweeps": [r.as_dict() for r in services.reconciler.reconcile_all(services.businesses)]}

    def backfill() -> Mapping[str, Any]:
        # Gaps are back-filled within minutes, not at the next full reconciliation.
        pending = gaps.businesses_with_open_gaps(services.ledger.engine, services.businesses)
        return {"sweeps": [r.as_dict() for r in services.reconciler.reconcile_all(pending)]}

    def follow() -> Mapping[str, Any]:
        # Between full sweeps: keeps each watermark minutes behind Graph at a request a round.
        return {"rounds": [r.as_dict() for r in services.delta.follow_all(services.businesses)]}

    def purge() -> Mapping[str, Any]:
        return purge_working_state(services.ledger.engine, services.ledger.clock(), schedule.retention)

    def evaluate_retention() -> Mapping[str, Any]:
        return services.retention.evaluator.evaluate().as_dict()

    def anonymise() -> Mapping[str, Any]:
        return services.retention.anonymiser.run()

    def read_privacy_mailbox() -> Mapping[str, Any]:
        # What notifications missed (or brought before a crash) is taken in here, and the gaps closed.
        return services.mailbox.catch_up().as_dict()

    def run_requests() -> Mapping[str, Any]:
        return {"runs": [{"request": r.request_id, "state": r.state} for r in services.requests.run_queued()]}

    def expire_exports() -> Mapping[str, Any]:
        return {"destroyed": destroy_expired_exports(services.ledger, services.ledger.clock)}

    def forget_contacts() -> Mapping[str, Any]:
        # Without a privacy mailbox no mail will ever go: an erasure's contact details need not wait for one.
        pending = mail_pending if services.mail is not None else (lambda _session, _request: False)
        return {"forgotten": forget_request_contacts(services.ledger, now=services.ledger.clock(),
                                                     keep=schedule.request_contacts, mail_pending=pending)}

    jobs: dict[str, tuple[Job, timedelta]] = {
        "renew-subscriptions": (renew, RENEWAL_INTERVAL),
        "follow-calendars": (follow, schedule.delta),
        "backfill-gaps": (backfill, BACKFILL_INTERVAL),
        "reconcile": (reconcile, schedule.reconcile),
        "checkpoint": (checkpoint, CHECKPOINT_INTERVAL),
        "purge-working-state": (purge, PURGE_INTERVAL),
        "evaluate-retention": (evaluate_retention, schedule.evaluate_retention),
        "anonymise": (anonymise, schedule.anonymise),
        "requests": (run_requests, schedule.requests),
        "expire-exports": (expire_exports, EXPORT_EXPIRY_INTERVAL),
        "forget-request-contacts": (forget_contacts, PURGE_INTERVAL),
    }
    if services.mailbox is not None:
        jobs["privacy-mailbox"] = (read_privacy_mailbox, schedule.requests)
    if services.mail is not None:
        # The mail requests are due (and the daily digest), and material-change notices, batch by batch.
        jobs["request-mail"] = (services.mail.requests.run, schedule.requests)
        jobs["notices"] = (services.mail.notices.run, schedule.requests)
    return jobs
