"""What the admin pages show of the running service: job runs, the inbox, the subscriptions.

Ids, times, states and counts only: no page built from these shows personal data, and nothing
here reads a clientState's hash.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from database.times import parse_time
from state.inbox import InboxRow, depth, last_received
from state.leases import JobLease, JobRun, job_names, last_runs, lease_of
from state.subscriptions import GraphSubscription

SCHEDULER_LEASE = "scheduler"   # jobs/scheduler.py's lease: its holder runs every scheduled job
RUNS_SHOWN = 5
LIFECYCLE_EVENTS_SHOWN = 10


@dataclass(frozen=True)
class RunLine:
    """One job run as the page shows it."""

    run_id: int
    started_at: str
    finished_at: str | None
    outcome: str
    seconds: float | None
    holder: str
    error: str | None     # the exception's class, for a failed run


@dataclass(frozen=True)
class InboxStatus:
    waiting: int
    oldest_waiting: str | None
    last_received: str | None


@dataclass(frozen=True)
class LifecycleEvent:
    event: str
    received_at: str
    state: str


@dataclass(frozen=True)
class SubscriptionLine:
    """One stored subscription: never its clientState nor the hash of it."""

    subscription_id: str
    business_id: str
    resource: str
    expires_at: str
    state: str
    updated_at: str
    events: list[LifecycleEvent]


def job_runs(engine: Engine) -> dict[str, list[RunLine]]:
    """Job name -> its latest runs, newest first."""
    return {name: [_run_line(run) for run in last_runs(engine, name, RUNS_SHOWN)] for name in job_names(engine)}


def _run_line(run: JobRun) -> RunLine:
    seconds = (parse_time(run.finished_at) - parse_time(run.started_at)).total_seconds() if run.finished_at else None
    error = json.loads(run.detail).get("error") if run.outcome == "failed" and run.detail else None
    return RunLine(run.id, run.started_at, run.finished_at, run.outcome, seconds, run.holder, error)


def scheduler_lease(engine: Engine) -> JobLease | None:
    """Who holds the scheduler's lease and until when."""
    return lease_of(engine, SCHEDULER_LEASE)


def inbox_status(engine: Engine) -> InboxStatus:
    waiting, oldest = depth(engine)
    return InboxStatus(waiting, oldest, last_received(engine))


def subscriptions_by_business(engine: Engine, businesses: list[str]) -> dict[str, list[SubscriptionLine]]:
    """Each configured business (and any other with a stored subscription) -> its subscriptions."""
    columns = (GraphSubscription.subscription_id, GraphSubscription.business_id, GraphSubscription.resource,
               GraphSubscription.expires_at, GraphSubscription.state, GraphSubscription.updated_at)
    with engine.connect() as connection:
        rows = connection.execute(select(*columns).order_by(GraphSubscription.business_id,
                                                            GraphSubscription.expires_at.desc())).all()
    events = _lifecycle_events(engine, [row.subscription_id for row in rows])
    by_business: dict[str, list[SubscriptionLine]] = {business: [] for business in businesses}
    for row in rows:
        by_business.setdefault(row.business_id, []).append(
            SubscriptionLine(*row, events=events.get(row.subscription_id, [])))
    return by_business


def _lifecycle_events(engine: Engine, subscription_ids: list[str]) -> dict[str, list[LifecycleEvent]]:
    """The lifecycle notifications still in the inbox, per subscription, newest first."""
    if not subscription_ids:
        return {}
    query = (select(InboxRow.subscription_id, InboxRow.event, InboxRow.received_at, InboxRow.state)
             .where(InboxRow.kind == "lifecycle", InboxRow.subscription_id.in_(subscription_ids))
             .order_by(InboxRow.id.desc()))
    events: dict[str, list[LifecycleEvent]] = defaultdict(list)
    with engine.connect() as connection:
        for subscription_id, event, received_at, state in connection.execute(query):
            if len(events[subscription_id]) < LIFECYCLE_EVENTS_SHOWN:
                events[subscription_id].append(LifecycleEvent(event, received_at, state))
    return events


def hours_until(moment: str, now: datetime) -> float:
    """Hours from `now` to a ledger time (negative when past)."""
    return (parse_time(moment) - now).total_seconds() / 3600
