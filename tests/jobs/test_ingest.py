"""The Ingestor on its own: what each appointment state writes, on SQLite and PostgreSQL."""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from config.retention import load_policy
from config.settings import DEFAULT_RETENTION_POLICY
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.models import Appointment, Customer, CustomerInfo, QuestionAnswer
from jobs import classify
from jobs.erasure import erase_working_state
from jobs.holds_scope import subject_scope
from jobs.ingest import Ingestor
from ledger.core.canonical import parse_entry
from ledger.encryption import MasterKeys
from ledger.entries import stream_rows
from ledger.keystore import open_keystore
from ledger.transactions import Ledger, LedgerKeys
from state import bookings_mirror, retention_dues

START = datetime(2024, 3, 1, 10, 0, tzinfo=timezone.utc)
ADA = CustomerInfo(customer_id="c-1", name="Ada Lovelace", email="Ada@Example.com", phone="+44 20 7946 0018",
                   notes="Allergic to latex.", time_zone="Europe/London",
                   answers=(QuestionAnswer("q1", "What is your age?", "36"),))


def booking(appointment_id: str = "a-1", *, business: str = "clinic@contoso.com", customer: CustomerInfo = ADA,
            start: datetime = START, notes: str | None = "First visit.") -> Appointment:
    return Appointment(id=appointment_id, business_id=business, start=start, end=start + timedelta(minutes=30),
                       service_id="s-1", service_name="Check-up", customers=(customer,), service_notes=notes,
                       last_updated=start - timedelta(days=1))


@pytest.fixture
def ingestor(db, keystore_url, clock) -> Iterator[Ingestor]:
    keys = LedgerKeys(MasterKeys(os.urandom(32)), os.urandom(32), "GB")
    keystore = open_keystore(keystore_url, keys.master, clock=clock)
    ledger = Ledger(db, keys, clock, keystore=keystore, working_state_eraser=erase_working_state, hold_scope=subject_scope)
    yield Ingestor(ledger, load_policy(DEFAULT_RETENTION_POLICY), clock=clock)
    keystore.close()


def entries(ingestor: Ingestor) -> list[dict]:
    with ingestor.ledger.engine.connect() as connection:
        return [parse_entry(body) for _, body, _ in stream_rows(connection)]


def test_a_repeat_is_unchanged_and_only_real_changes_are_updated(ingestor):
    """Same content → nothing; a list item without notes → nothing; a new email or time → updated."""
    assert ingestor.ingest_appointment(booking()) == "collected"
    assert ingestor.ingest_appointment(booking()) == "unchanged"
    listed = dataclasses.replace(booking(notes=None), customers=(dataclasses.replace(ADA, notes=None),))
    assert ingestor.ingest_appointment(listed) == "unchanged"
    assert ingestor.ingest_appointment(booking(customer=dataclasses.replace(ADA, email="ada@new.example"))) == "updated"
    assert ingestor.ingest_appointment(booking(start=START + timedelta(days=1))) == "updated"
    assert [e["kind"] for e in entries(ingestor)] == ["collected", "updated", "updated"]


def test_entries_carry_the_policy_period_and_the_projection_the_due_dates(ingestor):
    """The entry names each category's period and clock, never a date; the due dates (notes: 90 days
    after the appointment ends; contact: a year after the last contact) are in retention_due."""
    ingestor.ingest_appointment(booking())
    (entry,) = entries(ingestor)
    assert entry["v"] == 2
    assert entry["classes"]["booking.notes"] == {
        "fields": [name for name in entry["fields"] if name.endswith("notes")], "purpose": entry["classes"]["booking.notes"]["purpose"],
        "legal_basis": entry["classes"]["booking.notes"]["legal_basis"], "period": "P90D", "clock": "appointment_end",
    }
    assert entry["classes"]["booking.details"]["legal_basis"] == "legal_obligation"
    with Session(ingestor.ledger.engine) as session:
        due = {row.category: row.due_at for row in retention_dues.pending_before(session, "9999")}
        assert retention_dues.pending_before(session, "2024-05-30T10:30:00.000000Z") == []
    assert due["booking.notes"] == "2024-05-30T10:30:00.000000Z"
    assert due["booking.contact"] == "2025-03-01T10:30:00.000000Z"


def test_gone_is_recorded_once_and_known_appointments_sees_only_active_ones(ingestor):
    ingestor.ingest_appointment(booking())
    assert ingestor.known_appointments("clinic@contoso.com", START, START + timedelta(hours=1)) == {"a-1"}
    assert ingestor.known_appointments("clinic@contoso.com", START + timedelta(hours=1), START + timedelta(hours=2)) == set()
    assert ingestor.record_gone("clinic@contoso.com", "a-1", reason="cancelled") == "cancelled"
    assert ingestor.record_gone("clinic@contoso.com", "a-1", reason="deleted") == "unchanged"
    assert ingestor.record_gone("clinic@contoso.com", "never-seen", reason="deleted") == "unchanged"
    assert ingestor.known_appointments("clinic@contoso.com", START, START + timedelta(hours=1)) == set()


def test_a_read_taken_before_a_cancellation_and_committed_after_it_collects_nothing(ingestor):
    """Two workers: one fetched the appointment, the other recorded Graph's cancellation first."""
    stale = booking()
    ingestor.ingest_appointment(stale)
    ingestor.record_gone("clinic@contoso.com", "a-1", reason="cancelled")
    assert ingestor.ingest_appointment(stale) == "unchanged"
    assert [e["kind"] for e in entries(ingestor)] == ["collected", "cancelled"]


def test_one_customer_keeps_one_subject_within_a_business_only(ingestor):
    """By customer id, or by email through the blind index, in the same business; never across."""
    ingestor.ingest_appointment(booking("a-1"))
    ingestor.ingest_appointment(booking("a-2", customer=dataclasses.replace(ADA, customer_id="c-9")))
    ingestor.ingest_appointment(booking("a-3", business="other@contoso.com"))
    first, second, third = (e["subject"] for e in entries(ingestor))
    assert first == second != third


def test_tombstoned_appointments_and_customers_are_never_ingested(ingestor):
    ingestor.ingest_appointment(booking())
    (entry,) = entries(ingestor)
    ingestor.ledger.erase_subject(entry["subject"], reason="erasure-request", tombstones=[("appointment", "a-1"), ("customer", "c-1")])
    assert ingestor.ingest_appointment(booking(start=START + timedelta(days=2))) == "tombstoned"
    assert ingestor.ingest_appointment(booking("a-2")) == "collected"
    assert "subject" not in entries(ingestor)[-1]


def test_the_content_digest_is_keyed_by_the_subject_and_no_personal_value_reaches_an_entry(ingestor):
    """The mirror's digest is HMAC under the subject's own key over the canonical content: not the
    bare SHA-256 of those same bytes, nor the HMAC under the long-lived blind-index key; the entry
    holds no digest and no value at all."""
    ingestor.ingest_appointment(booking())
    (entry,) = entries(ingestor)
    (person,) = classify.people(booking(), "GB")
    shown = {n: v for n, v in person.values.items() if n.rpartition(".")[2] not in classify.LIST_OMITTED}
    canonical = json.dumps(["a-1", person.key, sorted(shown.items())], separators=(",", ":")).encode()
    with ingestor.ledger.transaction() as tx:
        subject_key = classify.digest_key(tx.subject_secret(entry["subject"]))
        stored = bookings_mirror.appointment(tx.session, "a-1").digests[person.key][0]
    assert stored == hmac.new(subject_key, canonical, hashlib.sha256).hexdigest()
    assert stored != hashlib.sha256(canonical).hexdigest()
    long_lived = classify.digest_key(ingestor.ledger.keys.blind_index_key)
    assert stored != hmac.new(long_lived, canonical, hashlib.sha256).hexdigest()
    assert "content_digest" not in entry and "retention_until" not in repr(entry) and stored not in repr(entry)
    text = repr(entry)
    assert not any(value in text for value in ("Ada", "7946", "Allergic", "First visit", "your age", "London", "2024-03-01"))


def test_erasure_leaves_ids_and_states_in_the_mirror_and_a_replay_changes_nothing(ingestor):
    """jobs.erasure: the appointment and customer rows keep ids and `erased` only, the due dates go,
    both ids are tombstoned; the same booking, record or cancellation again writes nothing."""
    record = Customer(id="c-1", business_id="clinic@contoso.com", display_name="Ada Lovelace", email="ada@example.com")
    ingestor.ingest_appointment(booking())
    assert ingestor.ingest_customer(record) == "collected"
    subject = entries(ingestor)[0]["subject"]
    ingestor.ledger.erase_subject(subject, reason="erasure-request")
    with Session(ingestor.ledger.engine) as session:
        row = session.get(bookings_mirror.BookingAppointment, "a-1")
        assert (row.state, row.start_at, row.end_at, row.subjects, row.digests, row.graph_version) == (
            "erased", None, None, "{}", "{}", None)
        link = session.get(bookings_mirror.BookingCustomer, ("clinic@contoso.com", "c-1"))
        assert (link.state, link.subject_ref, link.digest) == ("erased", None, None)
        assert session.scalars(select(retention_dues.RetentionDue)).all() == []
    before = entries(ingestor)
    assert ingestor.ingest_appointment(booking()) == "tombstoned"
    assert ingestor.ingest_customer(record) == "tombstoned"
    assert ingestor.record_gone("clinic@contoso.com", "a-1") == "unchanged"
    assert ingestor.record_customer_gone("clinic@contoso.com", "c-1") == "unchanged"
    assert ingestor.known_appointments("clinic@contoso.com", START, START + timedelta(hours=1)) == set()
    assert ingestor.graph_versions(["a-1"]) == {} and ingestor.erased_appointments(["a-1", "a-9"]) == {"a-1"}
    assert entries(ingestor) == before


def test_erasing_one_customer_of_a_group_booking_erases_the_booking_row_and_keeps_the_other_subject(ingestor):
    """The booking's times are the erased person's too: its row goes whole; the other customer's
    subject, data and due dates stay."""
    grace = dataclasses.replace(ADA, customer_id="c-2", name="Grace Hopper", email="grace@example.com")
    group = dataclasses.replace(booking(), customers=(ADA, grace))
    ingestor.ingest_appointment(group)
    ada, other = (e["subject"] for e in entries(ingestor))
    ingestor.ledger.erase_subject(ada, reason="erasure-request")
    with ingestor.ledger.transaction() as tx:
        assert bookings_mirror.appointment(tx.session, "a-1").state == "erased"
        assert tx.is_tombstoned("appointment", "a-1") and tx.subject(other).status == "active"
        assert {r.subject_ref for r in retention_dues.pending_before(tx.session, "9999")} == {other}
        assert tx.read_personal_data(other, viewer="test", purpose="check")["email"] == "grace@example.com"
