"""Anonymisation through Graph (emulator over HTTP; SQLite and PostgreSQL): rewrite or delete the
appointment, delete the customer record, clean the event copy, read back, destroy the keys."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from anonymise_fixtures import Bookings, anonymiser, entries, person
from config import load_settings
from config.retention import load_policy
from ledger.integrity import verify_ledger
from ledger.holds import place_hold, release_hold
from state import anonymisation

ALL = ["account.preferences", "booking.answers", "booking.contact", "booking.details", "booking.identity", "booking.notes"]


@pytest.fixture
def policy(service: Any) -> Any:
    return load_policy(load_settings(service.settings).RETENTION_POLICY_FILE)


@pytest.fixture
def bookings(control: Any, service: Any, graph: Any, ingestor: Any, emulator: Any) -> Bookings:
    business = control.seed(appointments=0, customers=0)[0]
    return Bookings(emulator.graph_url, business, graph, ingestor, service.ledger, control)


def _start(bookings: Bookings) -> Any:
    return bookings.ledger.clock().replace(microsecond=0) - timedelta(days=400)


def test_an_appointment_nothing_needs_is_stripped_then_deleted(bookings: Bookings, policy: Any) -> None:
    """Every category expired: customers stripped (PATCH) first, then DELETE; keys erased; chain verifies."""
    appointment_id = bookings.book(_start(bookings), [person(1)])
    subject, customer_id = bookings.subject_of(appointment_id)
    bookings.expire("appointment", appointment_id, subject, ALL)
    op = bookings.plan(subject, "appointment", appointment_id)
    counts = anonymiser(bookings, policy).run()
    assert counts["done"] == 1, counts
    assert bookings.appointment(appointment_id).status_code == 404
    with bookings.ledger.transaction() as tx:
        steps = anonymisation.steps(tx.session, op.id)
        assert tx.is_tombstoned("appointment", appointment_id)
    assert steps["appointment"].evidence["action"] == "strip" and steps["appointment-delete"].state == "done"
    statuses = [g["status"] for g in steps["appointment"].evidence["graph"]]
    assert statuses[-1] in (200, 204) and all(g["request_id"] for g in steps["appointment"].evidence["graph"])
    done = entries(bookings.ledger, "anonymised")
    assert [e["action"] for e in done] == ["strip", "delete"]
    assert entries(bookings.ledger, "anonymisation-verified")
    assert verify_ledger(bookings.ledger.engine, verifier_key=None, origin=None, clock=bookings.ledger.clock).ok


def test_a_group_appointment_is_rewritten_with_the_others_sent_back_whole(bookings: Bookings, policy: Any) -> None:
    """One of two customers expires: their element leaves customers[], the other comes back as it was."""
    appointment_id = bookings.book(_start(bookings), [person(1), person(2)])
    before = bookings.appointment(appointment_id).json()
    subject, customer_id = bookings.subject_of(appointment_id, 0)
    other = next(c for c in before["customers"] if c["customerId"] != customer_id)
    bookings.expire("appointment", appointment_id, subject, ALL)
    op = bookings.plan(subject, "appointment", appointment_id)
    assert anonymiser(bookings, policy).run()["done"] == 1
    after = bookings.appointment(appointment_id).json()
    assert [c["customerId"] for c in after["customers"]] == [other["customerId"]]
    kept = after["customers"][0]
    assert {k: kept.get(k) for k in ("name", "emailAddress", "phone", "customQuestionAnswers")} == \
        {k: other.get(k) for k in ("name", "emailAddress", "phone", "customQuestionAnswers")}
    with bookings.ledger.transaction() as tx:
        assert anonymisation.steps(tx.session, op.id)["appointment"].evidence["action"] == "rewrite"
        assert not tx.is_tombstoned("appointment", appointment_id)


def test_a_hold_placed_in_flight_stops_the_operation_until_released(bookings: Bookings, policy: Any) -> None:
    """A hold placed during the first write stops the operation before its next step; after the
    release a run finishes it."""
    appointment_id = bookings.book(_start(bookings), [person(1)])
    subject, _ = bookings.subject_of(appointment_id)
    bookings.expire("appointment", appointment_id, subject, ALL)
    op = bookings.plan(subject, "appointment", appointment_id)
    runner = anonymiser(bookings, policy)
    journal_sending = runner.journal.sending
    placed = []

    def hold_after_first_send(works, step, plans):   # the officer acts while the strip is in flight
        journal_sending(works, step, plans)
        if not placed:
            with bookings.ledger.transaction() as tx:
                placed.append(place_hold(tx, "subject", subject, reason="case 7", placed_by="officer", ends_at=None))

    runner.journal.sending = hold_after_first_send  # type: ignore[method-assign]
    counts = runner.run()
    assert counts["held"] == 1, counts
    with bookings.ledger.transaction() as tx:
        steps = anonymisation.steps(tx.session, op.id)
        assert anonymisation.operation(tx.session, op.id).state == "held"
    assert steps["appointment"].state == "done" and "appointment-delete" not in steps
    assert bookings.appointment(appointment_id).status_code == 200
    with bookings.ledger.transaction() as tx:
        release_hold(tx, placed[0].id, reason="case closed", released_by="officer")
    assert anonymiser(bookings, policy).run()["done"] == 1
    assert bookings.appointment(appointment_id).status_code == 404
