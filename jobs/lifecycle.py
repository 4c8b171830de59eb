"""Handling Graph's lifecycle notifications, one inbox row at a time (graph-facts.md §2.7).

The inbox worker (jobs/worker.py) calls, for each claimed row of kind `lifecycle`:

    outcome = jobs.lifecycle.handle(row, services)

`row` is a `state.inbox.InboxRow` (`row.event` is the lifecycle event, `row.subscription_id`
the subscription, `row.received_at` when it arrived); `services` a `LifecycleServices` built once
per worker: `bookings_ledger.wiring.sync_services(settings, ledger, graph, ingestor).lifecycle`. It returns a short outcome for the worker's log and
raises on failure, so the worker retries the row with backoff and parks it in the end. Every
branch is idempotent: a repeated or stale event changes nothing that matters.

    reauthorizationRequired  reauthorize (or renew, when renewal is due anyway); recreate if gone
    subscriptionRemoved      record the gap, create a new subscription, reconcile the business
    missed                   nothing if a sweep started since it arrived (a repeat, or a second
                             `missed` queued behind the first); else record the gap (once, however
                             often the row is retried) and reconcile the business now (the back-fill)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

from jobs import gaps
from jobs.subscriptions import SubscriptionManager
from ledger.transactions import Ledger
from state.inbox import InboxRow
from state.subscriptions import GraphSubscription
from database.times import parse_time
from state.watermarks import open_gap, watermark


class BusinessReconciler(Protocol):
    """What `missed` and `subscriptionRemoved` need of jobs.reconcile.Reconciler."""

    def reconcile_business(self, business_id: str) -> object: ...


@dataclass(frozen=True)
class LifecycleServices:
    """The collaborators lifecycle handling needs; build once per worker process."""

    ledger: Ledger
    subscriptions: SubscriptionManager
    reconciler: BusinessReconciler


def handle(row: InboxRow, services: LifecycleServices) -> str:
    """Act on one lifecycle notification; returns what was done (raises to have the row retried)."""
    stored = _subscription(services.ledger, row.subscription_id)
    if stored is None:
        return "unknown-subscription"
    if row.event == "reauthorizationRequired":
        return services.subscriptions.reauthorize(row.subscription_id)
    if row.event == "subscriptionRemoved":
        replaced = services.subscriptions.replace(row.subscription_id, reason="removed")
        if replaced is None:
            return "already-replaced"
        services.reconciler.reconcile_business(stored.business_id)
        return "recreated"
    if row.event == "missed":
        return _missed(services, stored, row)
    raise ValueError(f"unknown lifecycle event {row.event!r}")


def _missed(services: LifecycleServices, stored: GraphSubscription, row: InboxRow) -> str:
    arrived = parse_time(row.received_at)
    with Session(services.ledger.engine) as session:
        since = watermark(session, stored.business_id)
    if since is not None and parse_time(since) >= arrived:
        # What it reports was lost before it arrived, and a full sweep that started later has
        # finished: that sweep already compared everything the losses could concern.
        return "already-covered"
    _record_missed(services.ledger, stored, row, since=since)
    services.reconciler.reconcile_business(stored.business_id)
    return "reconciled"


def _record_missed(ledger: Ledger, stored: GraphSubscription, row: InboxRow, *, since: str | None) -> None:
    end = parse_time(row.received_at)
    with Session(ledger.engine) as session:
        if open_gap(session, stored.business_id, reason="missed", subscription_id=row.subscription_id, end=end):
            return  # an earlier attempt at this row recorded it, then failed to reconcile
    # Graph does not say which notifications it lost or when: everything since the ledger last
    # matched Graph (the watermark; the subscription's last renewal before any sweep) is suspect.
    start = parse_time(since or stored.updated_at)
    gaps.record(ledger, stored.business_id, reason="missed", start=start, end=end, subscription_id=row.subscription_id)


def _subscription(ledger: Ledger, subscription_id: str) -> GraphSubscription | None:
    with Session(ledger.engine) as session:
        return session.get(GraphSubscription, subscription_id)
