"""Reconciliation: sweeps write only the differences, advance the watermark and back-fill gaps."""
from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs import gaps
from ledger.entries import head
from ledger.models import EntryIndex
from ledger.sync_state import SyncGap, parse_time, sync_status

from projection_check import projection_differences


def run_traffic(control, count: int) -> None:
    control.call("POST", "/traffic", {"rate": 500, "count": count, "seed": 9})
    while control.call("GET", "/traffic")["running"]:
        time.sleep(0.05)


def kinds(ledger) -> list[str]:
    with Session(ledger.engine) as session:
        return list(session.scalars(select(EntryIndex.kind).order_by(EntryIndex.seq)))


def test_first_sweep_collects_everything_and_sets_the_watermark(make_services, control, service):
    businesses = control.seed(businesses=2, appointments=25)
    services = make_services(businesses)
    results = services.reconciler.reconcile_all(businesses)
    assert sum(r.appointments for r in results) == 50
    assert all(r.outcomes["collected"] == r.appointments for r in results)
    assert projection_differences(service.ledger, control.state()) == []
    status = sync_status(service.ledger.engine, businesses)
    assert [parse_time(s.complete_until) for s in status] == [r.started for r in results]


def test_a_repeated_sweep_writes_nothing(make_services, control, service):
    businesses = control.seed(appointments=25)
    services = make_services(businesses)
    services.reconciler.reconcile_all(businesses)
    with service.ledger.engine.connect() as connection:
        before = head(connection)
    again = services.reconciler.reconcile_business(businesses[0])
    assert dict(again.outcomes) == {"unchanged": 25} and again.changes == 0
    with service.ledger.engine.connect() as connection:
        assert head(connection) == before


def test_reconcile_repairs_deleted_changed_and_missing_appointments(make_services, control, service, graph):
    businesses = control.seed(appointments=40)
    services = make_services(businesses)
    services.reconciler.reconcile_all(businesses)
    run_traffic(control, 60)   # no subscription: every one of these changes is unknown to the ledger
    victim = control.state()["businesses"][0]["appointments"][0]["id"]
    graph.bookings.delete_appointment(businesses[0], victim)
    result = services.reconciler.reconcile_business(businesses[0])
    assert result.outcomes["cancelled"] >= 1 and result.outcomes["collected"] >= 1 and result.outcomes["updated"] >= 1
    assert projection_differences(service.ledger, control.state()) == []


def test_a_gap_is_back_filled_by_the_next_sweep_and_both_are_in_the_ledger(make_services, control, service):
    businesses = control.seed(appointments=5)
    services = make_services(businesses)
    now = service.ledger.clock()
    gap_id = gaps.record(service.ledger, businesses[0], reason="missed", start=now - timedelta(hours=1), end=now)
    assert gaps.businesses_with_open_gaps(service.ledger.engine, businesses) == businesses
    result = services.reconciler.reconcile_business(businesses[0])
    assert result.gaps_filled == [gap_id]
    assert gaps.businesses_with_open_gaps(service.ledger.engine, businesses) == []
    with Session(service.ledger.engine) as session:
        assert session.get(SyncGap, gap_id).filled_at is not None
    assert kinds(service.ledger)[0] == "sync-gap" and kinds(service.ledger)[-1] == "sync-gap-filled"


def test_a_narrow_sweep_records_nothing_gone_that_graph_still_has(make_services, control, service):
    businesses = control.seed(appointments=10)
    wide = make_services(businesses)
    wide.reconciler.reconcile_all(businesses)
    narrow = make_services(businesses, RECONCILE_DAYS_BACK=0, RECONCILE_DAYS_AHEAD=1)
    # The narrow sweep lists few appointments; the ledger's others in its window are read by id.
    result = narrow.reconciler.reconcile_business(businesses[0])
    assert result.outcomes["cancelled"] == 0
    assert projection_differences(service.ledger, control.state()) == []
