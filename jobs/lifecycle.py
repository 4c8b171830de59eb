"""Handling Graph's lifecycle notifications, one inbox row at a time (graph-facts.md §2.7).

The inbox worker (jobs/worker.py) calls, for each claimed row of kind `lifecycle`:

    outcome = jobs.lifecycle.handle(row, services)

`row` is the claimed row (`state.inbox.ClaimedRow`, or an `InboxRow`: `event`,
`subscription_id`, `received_at`); `services` a `LifecycleServices` built once per worker:
`bookings_ledger.wiring.sync_services(settings, ledger, graph, ingestor).lifecycle`. It returns
a short outcome for the worker's log, raises `Deferred` when another row's turn will do the work
(the worker puts the row back without counting an attempt), and raises on failure (retried with
backoff, parked in the end). Every branch is idempotent.

Anyone who has a subscription's clientState can post a thousand of these, so each kind of work
is coalesced (jobs/coalescing.py, turns kept in the database):

    reauthorizationRequired  one reauthorization (or renewal, when due anyway) per subscription per
                             REAUTHORIZATION window; a row is done once one started after it arrived
    subscriptionRemoved      create a successor, delete the old subscription at Graph (a forged
                             event must not leave two alive), record the gap; sweep the business
                             when no sweep turn is running or cooling down, else the gap is left
                             to the back-fill job
    missed                   nothing if a full sweep started since it arrived; else, in the
                             business's SWEEP turn, record the gap (once, however often the row
                             is retried) and sweep the business now (the back-fill)

For the privacy mailbox's Inbox subscription the same holds, with its catch-up
(jobs/privacy_mailbox.py) as the sweep.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session

from database.times import parse_time
from jobs import gaps
from jobs.coalescing import RECHECK, Deferred, Rule, already_done, in_turn
from jobs.privacy_mailbox import PrivacyMailbox
from jobs.subscriptions import SubscriptionManager, SubscriptionsBusy
from ledger.transactions import Ledger
from state.subscriptions import RETIRING, GraphSubscription, subscription_row
from state.watermarks import open_gap, watermark

# Graph sends its own challenges "every 15 min in the last hour" at most (§2.7): a 5-minute window
# answers each of them, at most 5 minutes late, while a forged burst costs one call per window.
REAUTHORIZATION = Rule("reauthorize", hold=timedelta(minutes=5), quiet=timedelta(minutes=5), from_start=True)
# A sweep reads the whole horizon. One per business at a time, and 15 minutes' rest after it,
# hold a forged stream of `missed` to four sweeps an hour; a genuine loss waits at most that long.
# The hold is longer than a sweep of a large business takes; a worker that died mid-sweep frees
# the turn after it.
SWEEP = Rule("sweep", hold=timedelta(hours=1), quiet=timedelta(minutes=15))


class BusinessReconciler(Protocol):
    """What `missed` and `subscriptionRemoved` need of jobs.reconcile.Reconciler."""

    def reconcile_business(self, business_id: str) -> object: ...


class LifecycleRow(Protocol):
    """What a lifecycle inbox row tells the handler."""

    @property
    def subscription_id(self) -> str: ...
    @property
    def event(self) -> str: ...
    @property
    def received_at(self) -> str: ...


@dataclass(frozen=True)
class LifecycleServices:
    """The collaborators lifecycle handling needs; build once per worker process."""

    ledger: Ledger
    subscriptions: SubscriptionManager
    reconciler: BusinessReconciler
    mailbox: PrivacyMailbox | None = None

    def sweeper(self, business_id: str) -> BusinessReconciler:
        """What sweeps a watched mailbox: the privacy mailbox's catch-up, or a business's reconciliation."""
        return self.mailbox if self.mailbox is not None and self.mailbox.watches(business_id) else self.reconciler


def handle(row: LifecycleRow, services: LifecycleServices) -> str:
    """Act on one lifecycle notification; returns what was done (raises to have the row retried or deferred)."""
    stored = subscription_row(services.ledger.engine, row.subscription_id)
    if stored is None:
        return "unknown-subscription"
    try:
        if row.event == "reauthorizationRequired":
            return _reauthorize(services, stored, parse_time(row.received_at))
        if row.event == "subscriptionRemoved":
            return _removed(services, stored)
        if row.event == "missed":
            return _missed(services, stored, parse_time(row.received_at))
    except SubscriptionsBusy:
        # A renewal pass is changing the subscriptions: it may well settle this one too.
        raise Deferred(services.ledger.clock() + RECHECK) from None
    raise ValueError(f"unknown lifecycle event {row.event!r}")


def _reauthorize(services: LifecycleServices, stored: GraphSubscription, arrived: datetime) -> str:
    ledger, subscription_id = services.ledger, stored.subscription_id
    if already_done(ledger.engine, REAUTHORIZATION, subscription_id, arrived):
        return "already-reauthorized"
    return in_turn(ledger.engine, ledger.clock, REAUTHORIZATION, subscription_id,
                   lambda: services.subscriptions.reauthorize(subscription_id))


def _removed(services: LifecycleServices, stored: GraphSubscription) -> str:
    # Checked before `replace` takes the subscriptions lease: a burst's later rows cost one read.
    if stored.state not in ("active", RETIRING) or \
            services.subscriptions.replace(stored.subscription_id, reason="removed") is None:
        return "already-replaced"
    try:
        _sweep(services, stored.business_id)
    except Deferred:
        # The replacement recorded its gap: the back-fill job sweeps the business within minutes.
        return "recreated; back-fill left to the gap job"
    return "recreated"


def _missed(services: LifecycleServices, stored: GraphSubscription, arrived: datetime) -> str:
    with Session(services.ledger.engine) as session:
        since = watermark(session, stored.business_id)
    if since is not None and parse_time(since) >= arrived:
        # What it reports was lost before it arrived, and a full sweep that started later has
        # finished: that sweep already compared everything the losses could concern.
        return "already-covered"

    def back_fill() -> None:
        _record_missed(services.ledger, stored, arrived, since=since)
        services.sweeper(stored.business_id).reconcile_business(stored.business_id)

    # Deferred while another sweep of the business runs or cools down; when the row comes back,
    # that sweep has usually covered it (the check above), and no gap is recorded for it.
    in_turn(services.ledger.engine, services.ledger.clock, SWEEP, stored.business_id, back_fill)
    return "reconciled"


def _sweep(services: LifecycleServices, business_id: str) -> None:
    in_turn(services.ledger.engine, services.ledger.clock, SWEEP, business_id,
            lambda: services.sweeper(business_id).reconcile_business(business_id))


def _record_missed(ledger: Ledger, stored: GraphSubscription, arrived: datetime, *, since: str | None) -> None:
    with Session(ledger.engine) as session:
        if open_gap(session, stored.business_id, reason="missed", subscription_id=stored.subscription_id, end=arrived):
            return  # an earlier attempt at this row recorded it, then failed to reconcile
    # Graph does not say which notifications it lost or when: everything since the ledger last
    # matched Graph (the watermark; the subscription's last renewal before any sweep) is suspect.
    start = parse_time(since or stored.updated_at)
    gaps.record(ledger, stored.business_id, reason="missed", start=start, end=arrived,
                subscription_id=stored.subscription_id)
