"""The scheduler: one leader runs each job, runs are recorded, 7 warped days without a lapse."""
from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from bookings_ledger.wiring import schedule_from_settings
from config import load_settings
from jobs.scheduler import LeasedRunner, build_scheduler, record_downtime, service_jobs
from state.inbox import InboxRow
from state.leases import last_runs
from database.times import parse_time
from state.watermarks import SyncGap


def test_a_second_scheduler_does_not_run_jobs_while_the_first_holds_the_lease(db, clock):
    first, second = LeasedRunner(db, clock, "first"), LeasedRunner(db, clock, "second")
    calls: list[str] = []
    assert first.run("job", lambda: calls.append("first") or {}) == "ok"
    assert second.run("job", lambda: calls.append("second") or {}) == "skipped"
    clock.advance(minutes=2)   # the first one died: its lease runs out and the standby takes over
    assert second.run("job", lambda: calls.append("second") or {}) == "ok"
    assert first.run("job", lambda: calls.append("first") or {}) == "skipped"
    assert calls == ["first", "second"]


def test_a_released_lease_passes_to_the_standby_at_once(db, clock):
    first, second = LeasedRunner(db, clock, "first"), LeasedRunner(db, clock, "second")
    assert first.is_leader() and not second.is_leader()
    first.release()
    assert second.is_leader()


def test_each_run_records_its_outcome_and_a_failure_does_not_stop_the_next(db, clock):
    runner = LeasedRunner(db, clock, "only")

    def broken() -> dict:
        raise RuntimeError("graph down")

    assert runner.run("reconcile", broken) == "failed"
    assert runner.run("reconcile", lambda: {"sweeps": 3}) == "ok"
    runs = last_runs(db, "reconcile")
    assert [(r.outcome, r.detail) for r in runs] == [("ok", '{"sweeps": 3}'), ("failed", '{"error": "RuntimeError"}')]
    assert all(r.finished_at for r in runs)


def test_the_scheduler_has_a_heartbeat_and_every_job(db, clock):
    jobs = {name: (lambda: {}, timedelta(minutes=5)) for name in ("renew-subscriptions", "reconcile")}
    scheduler = build_scheduler(LeasedRunner(db, clock), jobs)
    assert sorted(job.id for job in scheduler.get_jobs()) == ["heartbeat", "reconcile", "renew-subscriptions"]


def test_downtime_longer_than_graphs_retries_is_recorded_as_a_gap(service, control, graph_clock):
    businesses = control.seed()
    LeasedRunner(service.ledger.engine, graph_clock).is_leader()
    assert record_downtime(service.ledger, businesses) == []
    control.advance(hours=5)
    assert len(record_downtime(service.ledger, businesses)) == 1
    with Session(service.ledger.engine) as session:
        assert session.scalars(select(SyncGap.reason)).all() == ["downtime"]


def test_seven_warped_days_of_hourly_renewal_never_let_a_subscription_lapse(make_services, control, service, graph_clock):
    businesses = control.seed(businesses=3, appointments=3)
    services = make_services(businesses)
    jobs = service_jobs(services, lambda: {}, schedule_from_settings(load_settings({})))
    runner = LeasedRunner(service.ledger.engine, graph_clock)
    renew, _interval = jobs["renew-subscriptions"]
    renewals = 0
    for _hour in range(7 * 24):
        assert runner.run("renew-subscriptions", renew) == "ok"
        renewals += len(json.loads(last_runs(service.ledger.engine, "renew-subscriptions", 1)[0].detail)["renewed"])
        live = control.live_subscriptions()
        assert len(live) == 3
        now = graph_clock()
        assert all(parse_time(s.expires_at) - now > timedelta(days=1) for s in services.subscriptions.active())
        control.advance(hours=1)
    with Session(service.ledger.engine) as session:
        assert session.scalar(select(func.count()).select_from(SyncGap)) == 0
        assert session.scalar(select(func.count()).select_from(InboxRow).where(InboxRow.kind == "lifecycle")) == 0
    assert renewals >= 3 * 4   # about every 35 hours, per business


def test_a_job_refused_by_the_database_is_logged_by_class_never_with_the_row(db, clock, caplog):
    """PostgreSQL quotes a refused row in its message ("Failing row contains (...)"): the log line
    and the recorded run carry the exception's class and ids only."""
    secret = "ada.lovelace@example.com"

    def poisoned() -> dict:
        with db.begin() as connection:
            connection.execute(text("INSERT INTO tombstones (object_type, object_id) VALUES ('customer', :id)"), {"id": secret})
        return {}

    assert LeasedRunner(db, clock, "only").run("retention", poisoned) == "failed"
    assert "job retention failed" in caplog.text and "IntegrityError" in caplog.text
    assert secret not in caplog.text
    assert json.loads(last_runs(db, "retention")[0].detail) == {"error": "IntegrityError"}


def test_a_job_is_due_by_its_last_successful_run_so_a_restart_or_takeover_neither_skips_nor_doubles_it(db, clock):
    """A daily job that ran is not run again by a restarted or standby scheduler; one that failed, or
    whose interval has passed (less half a tick of jitter), is run at the next tick."""
    daily = timedelta(days=1)
    first, standby = LeasedRunner(db, clock, "first"), LeasedRunner(db, clock, "standby")
    assert first.run("evaluate-retention", lambda: {}, daily) == "ok"
    first.release()
    clock.advance(hours=1)
    assert standby.run("evaluate-retention", lambda: {}, daily) == "not-due"
    clock.advance(hours=22, minutes=58)
    assert standby.run("evaluate-retention", lambda: {}, daily) == "ok"     # 2.5 min early is a tick's jitter

    def broken() -> dict:
        raise RuntimeError("graph down")

    clock.advance(days=1)
    assert standby.run("evaluate-retention", broken, daily) == "failed"
    clock.advance(minutes=5)
    assert standby.run("evaluate-retention", lambda: {}, daily) == "ok"     # a failed run leaves the job due


def test_every_job_ticks_at_least_every_five_minutes_and_runs_however_late(db, clock):
    jobs = {"evaluate-retention": (lambda: {}, timedelta(days=1)), "quick": (lambda: {}, timedelta(minutes=2))}
    scheduler = build_scheduler(LeasedRunner(db, clock), jobs)
    daily, quick = scheduler.get_job("evaluate-retention"), scheduler.get_job("quick")
    assert daily.trigger.interval == timedelta(minutes=5) and quick.trigger.interval == timedelta(minutes=2)
    assert daily.misfire_grace_time is None and daily.coalesce and daily.max_instances == 1
    assert daily.args[2] == timedelta(days=1)
