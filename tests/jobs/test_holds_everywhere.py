"""Legal holds and the child path against the emulator, on each backend: holds on a business or an
appointment cover the subjects in them, every command and the ledger refuse to erase what is held,
a child's erasure is planned on every record at once (and waits while held), and a replayed
notification neither brings a child's data back nor plans it twice."""
from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from config import load_settings
from config.retention import load_policy
from jobs import children
from jobs.ingest import Ingestor
from jobs.metrics import JobMetrics
from ledger.holds import Held, place_hold, release_hold
from ledger.models import EntryIndex, LedgerEntry
from state import anonymisation, bookings_mirror, officer_alerts
from state.bookings_mirror import BookingAppointment

AGE_QUESTION = "What is your age?"   # the seeded question, named by config/retention.toml's [children]


@pytest.fixture
def businesses(control, make_services) -> list[str]:
    """Two seeded businesses, swept into the ledger."""
    ids = control.seed(businesses=2, appointments=6, customers=3)
    make_services(ids).reconciler.reconcile_all(ids)
    return ids


def subjects_by_appointment(ledger, business: str) -> dict[str, list[str]]:
    with Session(ledger.engine) as session:
        rows = session.scalars(select(BookingAppointment).where(BookingAppointment.business_id == business))
        return {row.appointment_id: sorted(row.subject_map().values()) for row in rows if row.subject_map()}


def hold(ledger, scope: str, target: str) -> str:
    with ledger.transaction() as tx:
        return place_hold(tx, scope, target, reason="Case 14", placed_by="Jane", ends_at=None).id


def release(ledger, hold_id: str) -> None:
    with ledger.transaction() as tx:
        release_hold(tx, hold_id, reason="Closed", released_by="Jane")


def test_a_business_hold_covers_every_subject_of_that_business_only(service, businesses):
    held_business, other = businesses
    hold_id = hold(service.ledger, "business", held_business)
    for subjects in subjects_by_appointment(service.ledger, held_business).values():
        for subject in subjects:
            with pytest.raises(Held) as refused:
                service.ledger.erase_subject(subject, reason="erasure-request")
            assert refused.value.hold_ids == (hold_id,)
    outside = next(iter(subjects_by_appointment(service.ledger, other).values()))[0]
    service.ledger.erase_subject(outside, reason="erasure-request")


def test_an_appointment_hold_covers_its_customers_whole_and_no_one_else(service, businesses):
    appointments = subjects_by_appointment(service.ledger, businesses[0])
    held_appointment, held_subjects = next(iter(appointments.items()))
    hold_id = hold(service.ledger, "appointment", held_appointment)
    for subject in held_subjects:
        with pytest.raises(Held):   # its key of each category covers its other appointments too
            service.ledger.destroy_category(subject, "booking.contact", reason="retention-expired")
    free = {s for subjects in appointments.values() for s in subjects} - set(held_subjects)
    for subject in sorted(free)[:1]:
        service.ledger.erase_subject(subject, reason="erasure-request")
    release(service.ledger, hold_id)
    service.ledger.erase_subject(held_subjects[0], reason="erasure-request")


def test_subject_erase_of_a_held_subject_exits_1_naming_the_holds_not_the_person(service, businesses, cli, control):
    subject = next(iter(subjects_by_appointment(service.ledger, businesses[0]).values()))[0]
    on_business = hold(service.ledger, "business", businesses[0])
    on_subject = hold(service.ledger, "subject", subject)
    code, output = cli("subject", "erase", subject, "--reason", "erasure-request")
    assert code == 1
    assert output == f"bookings-ledger: subject {subject} is on legal hold ({on_business}, {on_subject}): release the hold first\n"
    code, output = cli("hold", "release", on_business, "--reason", "Closed")
    assert code == 0
    code, output = cli("subject", "erase", subject, "--reason", "erasure-request")
    assert code == 1 and f"({on_subject})" in output
    assert cli("hold", "release", on_subject, "--reason", "Closed")[0] == 0
    assert cli("subject", "erase", subject, "--reason", "erasure-request")[0] == 0


def _book(emulator, control, business: str, answer: str, *, question: str = AGE_QUESTION) -> tuple[str, str]:
    """POST an appointment for one seeded customer with `answer` to the question; (appointment id, customer id)."""
    state = next(b for b in control.state()["businesses"] if b["business"]["id"] == business)
    customer, service_ = state["customers"][0], state["services"][0]
    body = {
        "serviceId": service_["id"], "startDateTime": {"dateTime": "2030-05-01T10:00:00", "timeZone": "UTC"},
        "endDateTime": {"dateTime": "2030-05-01T10:30:00", "timeZone": "UTC"},
        "customers": [{"@odata.type": "#microsoft.graph.bookingCustomerInformation", "customerId": customer["id"],
                       "name": customer["displayName"], "emailAddress": customer["emailAddress"],
                       "customQuestionAnswers": [{"question": question, "answerInputType": "text", "answer": answer,
                                                  "selectedOptions": []}]}],
    }
    with httpx.Client(base_url=emulator.graph_url, headers={"Authorization": "Bearer test"}) as http:
        created = http.post(f"/solutions/bookingBusinesses/{business}/appointments", json=body)
        created.raise_for_status()
    return created.json()["id"], customer["id"]


def _subject_of(ledger, appointment_id: str) -> str:
    with Session(ledger.engine) as session:
        (subject,) = bookings_mirror.appointment(session, appointment_id).subjects.values()
        return subject


def _flags(ledger, subject: str) -> list[dict]:
    with Session(ledger.engine) as session:
        seqs = session.scalars(select(EntryIndex.seq).where(EntryIndex.subject_ref == subject, EntryIndex.kind == "child-flagged"))
        return [json.loads(session.get(LedgerEntry, seq).body) for seq in seqs]


def _open_operations(ledger, subject: str) -> list[anonymisation.PlannedOperation]:
    with Session(ledger.engine) as session:
        return [op for op in anonymisation.operations_for_subject(session, subject) if op.state in anonymisation.OPEN_STATES]


def _alerts(ledger, subject: str) -> list[officer_alerts.Alert]:
    with Session(ledger.engine) as session:
        return [alert for alert in officer_alerts.open_alerts(session) if alert.subject_ref == subject]


@pytest.mark.parametrize(("question", "answer", "part"), [
    (AGE_QUESTION, "12", "age"), ("  what is your AGE? ", "9 years", "age"), (AGE_QUESTION, "under 13", "answer"),
    (AGE_QUESTION, "13", None), ("How did you hear about us?", "12", None), (AGE_QUESTION, "about twelve", None),
])
def test_ingestion_flags_a_child_by_the_policy_rule_and_plans_its_erasure_on_every_record(
        service, businesses, emulator, control, graph, ingestor, question, answer, part):
    appointment_id, customer_id = _book(emulator, control, businesses[0], answer, question=question)
    assert ingestor.ingest_appointment(graph.bookings.appointment(businesses[0], appointment_id)) in ("collected", "updated")
    subject = _subject_of(service.ledger, appointment_id)
    flags = _flags(service.ledger, subject)
    if part is None:
        assert flags == [] and _open_operations(service.ledger, subject) == []
        return
    (flag,) = flags
    assert flag["by_rule"] == part and set(flag) == {"v", "seq", "time", "kind", "subject", "by_rule"}  # never the answer
    (alert,) = _alerts(service.ledger, subject)
    assert (alert.kind, alert.raised_by) == ("child-flagged", "rule")
    operations = _open_operations(service.ledger, subject)
    with Session(service.ledger.engine) as session:
        records = bookings_mirror.subject_records(session, subject)
    assert {(op.object_type, op.object_id) for op in operations} == (
        {("appointment", a) for a in records.appointments} | {("customer", c) for _, c in records.customers})
    assert ("appointment", appointment_id) in {(op.object_type, op.object_id) for op in operations}
    assert ("customer", customer_id) in {(op.object_type, op.object_id) for op in operations}
    assert all(op.cause == "child" and "booking.answers" in op.categories and op.state == "planned" for op in operations)


def test_a_replayed_notification_for_a_child_plans_nothing_twice_and_after_erasure_brings_nothing_back(
        service, businesses, emulator, control, graph, ingestor):
    appointment_id, _ = _book(emulator, control, businesses[0], "11")
    fetched = graph.bookings.appointment(businesses[0], appointment_id)
    ingestor.ingest_appointment(fetched)
    subject = _subject_of(service.ledger, appointment_id)
    planned = {op.id for op in _open_operations(service.ledger, subject)}
    assert ingestor.ingest_appointment(fetched) == "unchanged"
    with httpx.Client(base_url=emulator.graph_url, headers={"Authorization": "Bearer test"}) as http:
        http.patch(f"/solutions/bookingBusinesses/{businesses[0]}/appointments/{appointment_id}",
                   json={"serviceNotes": "Bring the form."}).raise_for_status()
    assert ingestor.ingest_appointment(graph.bookings.appointment(businesses[0], appointment_id)) == "updated"
    assert len(_flags(service.ledger, subject)) == 1 and len(_alerts(service.ledger, subject)) == 1
    assert {op.id for op in _open_operations(service.ledger, subject)} == planned
    service.ledger.erase_subject(subject, reason="child")
    assert ingestor.ingest_appointment(fetched) == "tombstoned"
    with Session(service.ledger.engine) as session:
        assert anonymisation.plan_operation(session, subject_ref=subject, business_id=businesses[0], object_type="appointment",
                                            object_id=appointment_id, categories=["booking.identity"], cause="child",
                                            now=service.ledger.clock()) is None
    assert {op.id for op in _open_operations(service.ledger, subject)} == planned


def test_a_held_child_is_flagged_and_planned_but_nothing_is_erased_until_the_release(service, businesses, cli):
    """The officer flags a subject a business hold covers: flagged, alerted, its operations planned
    (the executor keeps them `held`), the ledger refuses to erase; after the release it may."""
    subject = next(iter(subjects_by_appointment(service.ledger, businesses[0]).values()))[0]
    hold_id = hold(service.ledger, "business", businesses[0])
    code, output = cli("subject", "child", subject, "--reason", "Parent called: she is 11", "--by", "Jane", "--json")
    assert code == 0, output
    flagged = json.loads(output.splitlines()[0])   # stdout's document; the log's lines (stderr) follow it
    assert flagged["held_by"] == [hold_id] and flagged["flagged_seq"] and flagged["operations"]
    assert {op.id for op in _open_operations(service.ledger, subject)} == set(flagged["operations"])
    (alert,) = _alerts(service.ledger, subject)
    assert (alert.raised_by, alert.note) == ("Jane", "Parent called: she is 11")
    (flag,) = _flags(service.ledger, subject)
    assert flag["by_officer"] is True and set(flag) == {"v", "seq", "time", "kind", "subject", "by_officer"}
    with pytest.raises(Held):
        service.ledger.erase_subject(subject, reason="child")
    code, output = cli("subject", "child", subject, "--reason", "again", "--json")
    assert code == 0 and json.loads(output.splitlines()[0])["flagged_seq"] is None and len(_alerts(service.ledger, subject)) == 1
    release(service.ledger, hold_id)
    assert {op.id for op in _open_operations(service.ledger, subject)} == set(flagged["operations"])
    service.ledger.erase_subject(subject, reason="child")
    (alert,) = _alerts(service.ledger, subject)
    assert (alert.raised_by, alert.note) == ("Jane", None)   # the officer was told; what they wrote went with the subject


def test_a_hold_that_lapsed_no_longer_covers_a_child(service, businesses, control):
    subject = next(iter(subjects_by_appointment(service.ledger, businesses[0]).values()))[0]
    with service.ledger.transaction() as tx:
        place_hold(tx, "business", businesses[0], reason="Audit", placed_by="Jane", ends_at=service.ledger.clock() + timedelta(hours=2))
    assert children.flag_child(service.ledger, subject, by="Jane", reason="r", now=service.ledger.clock()).held_by
    control.advance(hours=2)
    assert children.flag_child(service.ledger, subject, by="Jane", reason="r", now=service.ledger.clock()).held_by == ()
    service.ledger.erase_subject(subject, reason="child")


def test_a_new_booking_of_a_flagged_child_is_planned_for_erasure_whatever_its_answers(
        service, businesses, emulator, control, graph, ingestor):
    """The officer flagged the customer; their next booking says they are 30: it is planned all the same."""
    first, _ = _book(emulator, control, businesses[0], "30")
    ingestor.ingest_appointment(graph.bookings.appointment(businesses[0], first))
    subject = _subject_of(service.ledger, first)
    children.flag_child(service.ledger, subject, by="Jane", reason="Parent called", now=service.ledger.clock())
    second, _ = _book(emulator, control, businesses[0], "30")
    assert ingestor.ingest_appointment(graph.bookings.appointment(businesses[0], second)) == "collected"
    assert _subject_of(service.ledger, second) == subject
    assert ("appointment", second) in {(op.object_type, op.object_id) for op in _open_operations(service.ledger, subject)}
    assert len(_flags(service.ledger, subject)) == 1


def test_the_metric_counts_each_subject_the_rule_flags_once(service, businesses, emulator, control, graph):
    metrics = JobMetrics()
    policy = load_policy(load_settings(service.settings).RETENTION_POLICY_FILE)
    counted = Ingestor(service.ledger, policy, clock=service.ledger.clock, on_child_flagged=metrics.child_flagged)
    appointment_id, _ = _book(emulator, control, businesses[0], "10")
    fetched = graph.bookings.appointment(businesses[0], appointment_id)
    counted.ingest_appointment(fetched)
    counted.ingest_appointment(fetched)
    assert metrics.registry.get_sample_value("bl_child_flags_total") == 1.0
