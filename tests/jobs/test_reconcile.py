"""Reconciliation: sweeps write only the differences, advance the watermark and back-fill gaps."""
from __future__ import annotations

import time
from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs import gaps
from ledger.core.canonical import parse_entry
from ledger.entries import head, stream_rows
from ledger.models import EntryIndex
from database.times import parse_time
from state import bookings_mirror
from state.watermarks import SyncGap, sync_status

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
    control.call("DELETE", "/requests")
    again = services.reconciler.reconcile_business(businesses[0])
    assert dict(again.outcomes) == {"unchanged": 25} and again.changes == 0
    # Every listed appointment carried the version stamp the ledger holds: none was read by id.
    assert not [key for key in control.call("GET", "/requests") if key.split(" ")[1].endswith("$batch")]
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


def customers_api(emulator, business: str) -> httpx.Client:
    """The emulator's Bookings API of one business, as an HTTP client."""
    return httpx.Client(base_url=f"{emulator.graph_url}/solutions/bookingBusinesses/{business}",
                        headers={"Authorization": "Bearer test"}, timeout=30)


def test_customer_records_are_collected_then_only_their_changes_and_deletions_written(make_services, control, service, emulator):
    businesses = control.seed(appointments=5, customers=4)
    services = make_services(businesses)
    first = services.reconciler.reconcile_business(businesses[0])
    assert first.customers == 4 and dict(first.customer_outcomes) == {"collected": 4}
    ids = [c["id"] for c in control.state()["businesses"][0]["customers"]]
    with customers_api(emulator, businesses[0]) as api:
        api.post("/customers", json={"@odata.type": "#microsoft.graph.bookingCustomer", "displayName": "Grace Hopper",
                           "emailAddress": "grace@example.com", "phones": [{"number": "+1 202 555 0143", "type": "mobile"}]}
                 ).raise_for_status()
        api.patch(f"/customers/{ids[0]}", json={"@odata.type": "#microsoft.graph.bookingCustomer",
                                      "addresses": [{"street": "1 Navy Yard", "city": "Arlington"}]}).raise_for_status()
        api.delete(f"/customers/{ids[1]}").raise_for_status()
    second = services.reconciler.reconcile_business(businesses[0])
    assert dict(second.customer_outcomes) == {"collected": 1, "updated": 1, "cancelled": 1, "unchanged": 2}
    assert second.outcomes["updated"] == 0   # a customer record's change is not an appointment's
    assert projection_differences(service.ledger, control.state()) == []
    with service.ledger.engine.connect() as connection:
        before = head(connection)
    third = services.reconciler.reconcile_business(businesses[0])
    assert dict(third.customer_outcomes) == {"unchanged": 4} and third.changes == 0
    with service.ledger.engine.connect() as connection:
        assert head(connection) == before


def entries(ledger) -> list[dict]:
    with ledger.engine.connect() as connection:
        return [parse_entry(body) for _, body, _ in stream_rows(connection)]


def test_a_customer_record_keeps_the_subject_its_id_has_on_appointments(make_services, control, service):
    businesses = control.seed(appointments=6, customers=3)
    make_services(businesses).reconciler.reconcile_business(businesses[0])
    found = entries(service.ledger)
    by_record = {e["refs"]["customer"]: e["subject"] for e in found if e.get("refs", {}).keys() == {"customer"}}
    on_appointments = {e["refs"]["customer"]: e["subject"] for e in found if {"appointment", "customer"} <= e.get("refs", {}).keys()}
    assert len(by_record) == 3 and on_appointments
    assert all(by_record[customer] == subject for customer, subject in on_appointments.items())


def test_a_tombstoned_customer_record_is_never_collected_again(make_services, control, service):
    businesses = control.seed(appointments=0, customers=2)
    victim = control.state()["businesses"][0]["customers"][0]["id"]
    with service.ledger.transaction() as tx:
        tx.tombstone("customer", victim)
    result = make_services(businesses).reconciler.reconcile_business(businesses[0])
    assert dict(result.customer_outcomes) == {"tombstoned": 1, "collected": 1}
    assert all(e.get("refs", {}).get("customer") != victim for e in entries(service.ledger))


def test_a_sweep_never_reads_an_erased_appointment_again(make_services, control, service, emulator):
    """Still listed by Graph or deleted there, an erased appointment costs no read by id and writes nothing."""
    businesses = control.seed(appointments=6)
    services = make_services(businesses)
    services.reconciler.reconcile_all(businesses)
    appointments = control.state()["businesses"][0]["appointments"]
    listed, deleted = [a["id"] for a in appointments if a["customers"]][:2]
    with service.ledger.transaction() as tx:
        subjects = {s for i in (listed, deleted) for s in bookings_mirror.appointment(tx.session, i).subjects.values()}
    for subject in sorted(subjects):
        service.ledger.erase_subject(subject, reason="erasure-request")
    with httpx.Client(base_url=emulator.graph_url, headers={"Authorization": "Bearer test"}) as http:
        http.delete(f"/solutions/bookingBusinesses/{businesses[0]}/appointments/{deleted}").raise_for_status()
    with service.ledger.engine.connect() as connection:
        before = head(connection)
    control.call("DELETE", "/requests")
    again = services.reconciler.reconcile_business(businesses[0])
    reads = [r["path"] for r in control.call("GET", "/requests/log") if r["method"] == "GET"]
    assert reads and not [path for path in reads if listed in path or deleted in path]
    assert again.outcomes["tombstoned"] >= 1 and again.changes == 0
    with service.ledger.engine.connect() as connection:
        assert head(connection) == before
