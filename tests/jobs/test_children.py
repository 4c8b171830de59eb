"""The child path end to end (emulator over HTTP; SQLite and PostgreSQL): a customer whose answer
shows a child is flagged at ingestion, the executor erases them from every surface Graph lets the
service reach, without a mail to anyone, and nothing comes back; a held child waits for the release."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from anonymise_fixtures import Bookings, anonymiser, person
from config import load_settings
from config.retention import load_policy
from ledger.holds import place_hold, release_hold
from state import anonymisation

CHILD = [{"questionId": "q-age", "question": "What is your age?", "answerInputType": "text", "answer": "11",
          "selectedOptions": []}]


@pytest.fixture
def policy(service: Any) -> Any:
    return load_policy(load_settings(service.settings).RETENTION_POLICY_FILE)


@pytest.fixture
def bookings(control: Any, service: Any, graph: Any, ingestor: Any, emulator: Any) -> Bookings:
    business = control.seed(appointments=0, customers=0)[0]
    return Bookings(emulator.graph_url, business, graph, ingestor, service.ledger, control)


def _traces(control: Any, child: dict[str, Any]) -> list[dict[str, Any]]:
    """Where the child's name, email or phone still is on a surface the service can reach."""
    hits = [hit for value in (child["name"], child["emailAddress"], child["phone"])
            for hit in control.call("GET", f"/search?text={value}")["hits"]]
    return [hit for hit in hits if not hit["recoverable"]]


def _operations(bookings: Bookings, subject: str) -> list[anonymisation.PlannedOperation]:
    with bookings.ledger.transaction() as tx:
        return anonymisation.operations_for_subject(tx.session, subject)


def test_a_child_is_erased_from_every_surface_mailing_no_one_and_a_replay_brings_nothing_back(
        bookings: Bookings, policy: Any, control: Any) -> None:
    child = person(1, customQuestionAnswers=CHILD)
    start = bookings.ledger.clock().replace(microsecond=0) - timedelta(days=3)
    appointment_id = bookings.book(start, [child])
    subject, customer_id = bookings.subject_of(appointment_id)
    assert {(op.object_type, op.cause) for op in _operations(bookings, subject)} == {("appointment", "child"), ("customer", "child")}
    replay = bookings.graph.bookings.appointment(bookings.business, appointment_id)
    mailed = control.call("GET", f"/mail?recipient={child['emailAddress']}")
    counts = anonymiser(bookings, policy).run()
    assert counts["done"] == 2, counts
    assert _traces(control, child) == []
    assert bookings.customer(customer_id).status_code == 404
    assert control.call("GET", f"/mail?recipient={child['emailAddress']}") == mailed   # no cancellation mail
    with bookings.ledger.transaction() as tx:
        assert tx.subject(subject).status == "erased" and tx.is_tombstoned("appointment", appointment_id)
    assert bookings.ingestor.ingest_appointment(replay) == "tombstoned"
    assert all(op.state == "done" for op in _operations(bookings, subject))


def test_a_held_child_keeps_everything_until_the_release_then_is_erased(bookings: Bookings, policy: Any, control: Any) -> None:
    child = person(2, customQuestionAnswers=CHILD)
    with bookings.ledger.transaction() as tx:
        hold = place_hold(tx, "business", bookings.business, reason="Audit", placed_by="Jane", ends_at=None)
    appointment_id = bookings.book(bookings.ledger.clock().replace(microsecond=0) - timedelta(days=3), [child])
    subject, _ = bookings.subject_of(appointment_id)
    control.call("DELETE", "/requests")
    counts = anonymiser(bookings, policy).run()
    assert counts["held"] == 2, counts
    assert control.call("GET", "/requests/objects") == {}   # not one write reached Graph
    assert {op.state for op in _operations(bookings, subject)} == {"held"}
    assert _traces(control, child) != []
    with bookings.ledger.transaction() as tx:
        release_hold(tx, hold.id, reason="Audit done", released_by="Jane")
    assert anonymiser(bookings, policy).run()["done"] == 2
    assert _traces(control, child) == []
    with bookings.ledger.transaction() as tx:
        assert tx.subject(subject).status == "erased"
