"""Rectification, restriction, objection and opt-out requests (emulator over HTTP; SQLite and
PostgreSQL): a correction reaches Graph's customer record, the appointments' customers[] and the
ledger (its blind index follows the new address); a restricted subject's later changes in Graph
are recorded without their values and its due data is not erased; an opt-out is for good."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from anonymise_fixtures import ELEMENT, Bookings, entries, person
from config.retention import load_policy
from jobs.requests import restriction
from jobs.retention import RetentionEvaluator
from ledger.personal_data import read_values
from request_fixtures import runner, settings_of, verified_request
from state import anonymisation, subject_restrictions
from state.retention_dues import RetentionDue


NEW_PHONE = "+44 20 7946 0999"


@pytest.fixture
def policy(service: Any) -> Any:
    return load_policy(settings_of(service).RETENTION_POLICY_FILE)


@pytest.fixture
def bookings(control: Any, service: Any, graph: Any, ingestor: Any, emulator: Any) -> Bookings:
    business = control.seed(appointments=0, customers=0)[0]
    return Bookings(emulator.graph_url, business, graph, ingestor, service.ledger, control)


def _stored(bookings: Bookings, subject: str) -> dict[str, str]:
    with bookings.ledger.transaction() as tx:
        return read_values(tx.session, tx.keystore.existing_keys(subject), subject)


def test_a_correction_reaches_the_customer_record_the_appointments_and_the_ledger(
        bookings: Bookings, service: Any, policy: Any, certificates: Any) -> None:
    ada, grace = person(11), person(12)
    appointment_id = bookings.book(bookings.ledger.clock().replace(microsecond=0) - timedelta(days=2), [ada, grace])
    subject, customer_id = bookings.subject_of(appointment_id)
    request_id = verified_request(bookings, service, "rectification", email=ada["emailAddress"],
                                  corrections={"name": "Ada King", "email": "ada.king@example.org"})

    (report,) = runner(bookings, service, policy).run_queued()

    assert (report.state, report.outcome, report.subjects) == ("done", "done", (subject,)), report
    record = bookings.customer(customer_id).json()
    assert (record["displayName"], record["emailAddress"]) == ("Ada King", "ada.king@example.org")
    elements = bookings.appointment(appointment_id).json()["customers"]
    mine = next(e for e in elements if e["customerId"] == customer_id)
    assert (mine["name"], mine["emailAddress"]) == ("Ada King", "ada.king@example.org")
    theirs = next(e for e in elements if e["customerId"] != customer_id)
    assert (theirs["name"], theirs["emailAddress"]) == (grace["name"], grace["emailAddress"])   # untouched
    stored = _stored(bookings, subject)
    assert (stored["name"], stored["email"]) == ("Ada King", "ada.king@example.org")
    with bookings.ledger.transaction() as tx:
        assert subject in tx.find_subjects(email="ADA.KING@example.org")
    (rectified,) = [e for e in entries(bookings.ledger, "rectified") if e["subject"] == subject]
    assert rectified["refs"] == {"request": request_id} and rectified["fields"] == ["email", "name"]
    assert "Ada King" not in str(rectified)
    surfaces = {s.surface: s.action for s in certificates.issued[request_id].subjects[0].surfaces}
    assert surfaces == {"customer": "rectified", "appointment": "rectified", "ledger": "rectified"}


def test_a_restricted_subject_is_recorded_without_its_new_values_and_its_due_data_is_kept(
        bookings: Bookings, service: Any, policy: Any, control: Any, certificates: Any) -> None:
    ada, grace = person(13), person(14)
    start = bookings.ledger.clock().replace(microsecond=0) - timedelta(days=2)
    mine, theirs = bookings.book(start, [ada]), bookings.book(start, [grace])
    subject, _ = bookings.subject_of(mine)
    other, _ = bookings.subject_of(theirs)
    request_id = verified_request(bookings, service, "restriction", email=ada["emailAddress"])
    (report,) = runner(bookings, service, policy).run_queued()
    assert (report.state, report.outcome) == ("done", "done")
    with bookings.ledger.transaction() as tx:
        assert subject_restrictions.is_restricted(tx.session, subject)
        assert not subject_restrictions.is_restricted(tx.session, other)
    before = _stored(bookings, subject)

    for appointment_id in (mine, theirs):    # both give a new phone number in Bookings
        (element,) = bookings.appointment(appointment_id).json()["customers"]
        changed = [{**element, "@odata.type": ELEMENT, "phone": NEW_PHONE}]
        with bookings.http() as http:
            http.patch(f"/solutions/bookingBusinesses/{bookings.business}/appointments/{appointment_id}",
                       json={"@odata.type": "#microsoft.graph.bookingAppointment", "customers": changed}).raise_for_status()
        bookings.ingest(appointment_id)

    assert _stored(bookings, subject) == before                              # nothing new collected
    assert _stored(bookings, other)["phone"] == NEW_PHONE                     # the unrestricted one: collected
    (updated,) = [e for e in entries(bookings.ledger, "updated") if e["subject"] == subject]
    assert updated["restricted"] is True and "fields" not in updated
    (restricted,) = [e for e in entries(bookings.ledger, "restricted") if e["subject"] == subject]
    assert restricted["refs"] == {"request": request_id}

    # No zone reader: the dates below are set by hand, and reading a zone would count them afresh.
    evaluator = RetentionEvaluator(bookings.ledger, policy, bookings.ledger.clock, None)
    evaluator.evaluate()            # records the policy's first version (which dates everything afresh)
    with bookings.ledger.transaction() as tx:
        for due in tx.session.scalars(select(RetentionDue).where(RetentionDue.subject_ref.in_([subject, other]))):
            due.due_at = "2000-01-01T00:00:00.000000Z"
    report = evaluator.evaluate()
    assert {e.subject_ref for e in report.restricted} == {subject}
    with bookings.ledger.transaction() as tx:
        assert anonymisation.operations_for_subject(tx.session, subject) == []
        assert anonymisation.operations_for_subject(tx.session, other) != []
    assert restriction.lift(bookings.ledger, subject, "restriction", by="officer") is not None
    assert restriction.lift(bookings.ledger, subject, "restriction", by="officer") is None     # lifted once
    assert [e["actor"] for e in entries(bookings.ledger, "restriction-lifted") if e["subject"] == subject] == ["officer"]
    assert {e.subject_ref for e in evaluator.evaluate().expired} == {subject}   # lifted: erased as due


@pytest.mark.parametrize(("request_type", "purpose_objected"), [("objection", "analytics"), ("opt-out", "marketing")])
def test_an_objection_and_an_opt_out_are_recorded_and_an_opt_out_cannot_be_lifted(
        bookings: Bookings, service: Any, policy: Any, certificates: Any, request_type: str,
        purpose_objected: str) -> None:
    ada = person(15)
    appointment_id = bookings.book(bookings.ledger.clock().replace(microsecond=0), [ada])
    subject, _ = bookings.subject_of(appointment_id)
    request_id = verified_request(bookings, service, request_type, email=ada["emailAddress"])
    (report,) = runner(bookings, service, policy).run_queued()
    assert report.state == "done"
    # An objection limits the data to storage; an opt-out of marketing does not stop the booking's own processing.
    (element,) = bookings.appointment(appointment_id).json()["customers"]
    with bookings.http() as http:
        http.patch(f"/solutions/bookingBusinesses/{bookings.business}/appointments/{appointment_id}",
                   json={"@odata.type": "#microsoft.graph.bookingAppointment",
                         "customers": [{**element, "@odata.type": ELEMENT, "phone": NEW_PHONE}]}).raise_for_status()
    bookings.ingest(appointment_id)
    assert (_stored(bookings, subject).get("phone") == NEW_PHONE) == (request_type == "opt-out")
    kind = {"objection": "objected", "opt-out": "opted-out"}[request_type]
    assert [e["refs"] for e in entries(bookings.ledger, kind) if e["subject"] == subject] == [{"request": request_id}]
    with bookings.ledger.transaction() as tx:
        assert subject_restrictions.has_objected(tx.session, subject, purpose_objected)
        if request_type == "opt-out":
            with pytest.raises(ValueError):
                subject_restrictions.lift(tx.session, subject, "opt-out", now=bookings.ledger.clock())
        else:
            assert subject_restrictions.lift(tx.session, subject, "objection", now=bookings.ledger.clock())
            assert not subject_restrictions.has_objected(tx.session, subject, purpose_objected)
