"""Lifecycle events, posted by the emulator to the real web app and handled from the inbox."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.errors import Unavailable
from jobs.coalescing import Deferred
from jobs.lifecycle import SWEEP, handle
from state.inbox import InboxRow
from state.subscriptions import GraphSubscription
from state.watermarks import SyncGap, sync_status, watermark


def lifecycle_rows(service) -> list[InboxRow]:
    with Session(service.ledger.engine) as session:
        return list(session.scalars(select(InboxRow).where(InboxRow.kind == "lifecycle").order_by(InboxRow.id)))


def subscribed(make_services, control, appointments: int = 5):
    businesses = control.seed(appointments=appointments)
    services = make_services(businesses)
    services.subscriptions.ensure_all()
    return services, services.subscriptions.active()[0]


def deliver(control, service, subscription_id: str, event: str) -> InboxRow:
    """Have the emulator post the event; the row the web app stored for it."""
    before = len(lifecycle_rows(service))
    control.lifecycle(subscription_id, event)
    deadline = time.monotonic() + 15
    while len(rows := lifecycle_rows(service)) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    return rows[-1]


def missed_gaps(service) -> list[SyncGap]:
    with Session(service.ledger.engine) as session:
        return list(session.scalars(select(SyncGap).where(SyncGap.reason == "missed").order_by(SyncGap.id)))


def test_missed_records_a_gap_and_reconciles_the_business_now(make_services, control, service):
    services, sub = subscribed(make_services, control)
    row = deliver(control, service, sub.subscription_id, "missed")
    assert (row.event, row.subscription_id) == ("missed", sub.subscription_id)
    assert handle(row, services.lifecycle) == "reconciled"
    with Session(service.ledger.engine) as session:
        gap = session.scalars(select(SyncGap)).one()
    assert gap.reason == "missed" and gap.filled_at is not None
    assert sync_status(service.ledger.engine, services.businesses)[0].complete_until is not None


def test_a_missed_after_the_last_sweep_gets_its_own_gap_and_back_fill_after_the_cool_down(make_services, control,
                                                                                        service):
    """A second `missed` (same subscription, same expiry) after the first's sweep is a new loss,
    swept once the business's cool-down is over (until then it is deferred, at no Graph cost)."""
    services, sub = subscribed(make_services, control)
    first = deliver(control, service, sub.subscription_id, "missed")
    assert handle(first, services.lifecycle) == "reconciled"
    second = deliver(control, service, sub.subscription_id, "missed")
    assert second.id != first.id
    control.call("DELETE", "/requests")
    with pytest.raises(Deferred):
        handle(second, services.lifecycle)
    assert not [key for key in control.call("GET", "/requests") if " /v1.0/" in key]
    control.advance(seconds=SWEEP.quiet.total_seconds() + 1)
    assert handle(second, services.lifecycle) == "reconciled"
    gaps = missed_gaps(service)
    assert [gap.end for gap in gaps] == [first.received_at, second.received_at]
    assert all(gap.filled_at is not None for gap in gaps)


def test_a_missed_queued_behind_another_is_covered_by_its_sweep(make_services, control, service):
    """Two `missed` stored before either is handled: one gap, one sweep; the second costs no Graph call."""
    services, sub = subscribed(make_services, control)
    first = deliver(control, service, sub.subscription_id, "missed")
    second = deliver(control, service, sub.subscription_id, "missed")
    assert second.id != first.id
    assert handle(first, services.lifecycle) == "reconciled"
    with Session(service.ledger.engine) as session:
        swept = watermark(session, sub.business_id)
    control.call("DELETE", "/requests")
    assert handle(second, services.lifecycle) == "already-covered"
    assert not [key for key in control.call("GET", "/requests") if " /v1.0/" in key]
    with Session(service.ledger.engine) as session:
        assert watermark(session, sub.business_id) == swept
    (gap,) = missed_gaps(service)
    assert (gap.end, gap.filled_at is not None) == (first.received_at, True)


def test_a_missed_row_retried_after_a_failed_sweep_records_one_gap(make_services, control, service):
    """The sweep fails after the gap is recorded; the row's retry after the cool-down sweeps without a second gap."""
    services, sub = subscribed(make_services, control)
    row = deliver(control, service, sub.subscription_id, "missed")
    control.call("POST", "/faults", {"requests": [{"status": 500, "method": "GET", "route": "calendarView", "retry_after": None}]})
    with pytest.raises(Unavailable):
        handle(row, services.lifecycle)
    (gap,) = missed_gaps(service)
    assert gap.filled_at is None
    control.call("DELETE", "/faults")
    with pytest.raises(Deferred):   # a failed sweep is followed by the same cool-down
        handle(row, services.lifecycle)
    control.advance(seconds=SWEEP.quiet.total_seconds() + 1)
    assert handle(row, services.lifecycle) == "reconciled"
    (gap,) = missed_gaps(service)
    assert (gap.end, gap.filled_at is not None) == (row.received_at, True)


def test_subscription_removed_recreates_it_once_and_back_fills(make_services, control, service):
    services, sub = subscribed(make_services, control)
    row = deliver(control, service, sub.subscription_id, "subscriptionRemoved")
    assert handle(row, services.lifecycle) == "recreated"
    assert handle(row, services.lifecycle) == "already-replaced"   # a repeat changes nothing
    live = control.live_subscriptions()
    assert len(live) == 1 and live[0]["id"] != sub.subscription_id
    with Session(service.ledger.engine) as session:
        assert session.get(GraphSubscription, sub.subscription_id).state == "removed"
        gap = session.scalars(select(SyncGap)).one()
    assert (gap.reason, gap.filled_at is not None) == ("removed", True)


def test_reauthorization_required_reauthorizes_without_a_new_subscription(make_services, control, service):
    services, sub = subscribed(make_services, control)
    row = deliver(control, service, sub.subscription_id, "reauthorizationRequired")
    assert handle(row, services.lifecycle) == "reauthorized"
    assert [s["id"] for s in control.live_subscriptions()] == [sub.subscription_id]


def test_reauthorization_renews_when_renewal_is_due_anyway(make_services, control, service):
    services, sub = subscribed(make_services, control)
    control.advance(hours=40)
    row = deliver(control, service, sub.subscription_id, "reauthorizationRequired")
    assert handle(row, services.lifecycle) == "renewed"
    assert services.subscriptions.active()[0].expires_at > sub.expires_at
