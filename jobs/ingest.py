"""Ingestion: turn the truth Graph returns about an appointment into ledger entries, exactly once.

The API the worker and reconciliation call (stable):

    ingestor = Ingestor(ledger, policy, clock=clock)
    ingestor.ingest_appointment(appointment, tx=None) -> "collected" | "updated" | "unchanged" | "tombstoned"
    ingestor.record_gone(business_id, appointment_id, reason="cancelled" | "deleted", tx=None)
        -> "cancelled" | "unchanged"
    ingestor.known_appointments(business_id, start, end) -> set[str]   # active ids overlapping [start, end)
    ingestor.graph_versions(appointment_ids) -> dict[str, str]         # stored Graph version stamps
    ingestor.ingest_customer(customer, tx=None) -> "collected" | "updated" | "unchanged" | "tombstoned"
    ingestor.record_customer_gone(business_id, customer_id, tx=None) -> "cancelled" | "unchanged"
    ingestor.known_customers(business_id) -> set[str]                 # active customer record ids

Each call runs in its own ledger transaction, or inside `tx` when one is given (the worker writes
a whole batch and acknowledges its inbox rows in one transaction).

What is written (docs/ingestion.md): a new appointment gives one `collected` entry per customer
on it (per data subject; one subject-less entry when it has no customer); a known one gives
`updated` entries only for the customers whose keyed content digest changed; a cancelled or
deleted one gives `cancelled`. A business's customer record (read by reconciliation) is
recorded the same way under the subject its customer id already has: `collected` when first
seen, `updated` when its keyed digest changed, `cancelled` when Graph no longer lists it.
Personal values go only through `tx.collect` (encrypted); entries carry field names, categories
with purpose, legal basis and retention_until, the privacy-notice and policy versions and digests. Tombstoned appointments and customers are
never ingested again.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from config.retention import RetentionPolicy
from connector.models import Appointment, Customer
from jobs import classify
from jobs.classify import Person
from ledger.transactions import Clock, Ledger, LedgerTransaction
from ledger.identifiers import IdentifierError
from state.bookings_mirror import (
    ACTIVE, CANCELLED, BookingAppointment, BookingCustomer, graph_versions, known_customers, known_in_window,
    subjects_of_business,
)
from database.engine import read_only
from database.times import format_time
from ledger.entries import lock_head

Outcome = Literal["collected", "updated", "unchanged", "tombstoned"]
GoneOutcome = Literal["cancelled", "unchanged"]
# How personal data is stored in `personal_data`: each field's own category is in the entry.
STORED_CATEGORY, STORED_PURPOSE = "booking", "appointment"


class Ingestor:
    """Writes collected/updated/cancelled entries for Bookings appointments, idempotently."""

    def __init__(self, ledger: Ledger, policy: RetentionPolicy, *, clock: Clock) -> None:
        classify.check_policy(policy)
        self.ledger, self.policy, self.clock = ledger, policy, clock
        self._digest_key = classify.digest_key(ledger.keys.blind_index_key)

    @contextmanager
    def _transaction(self, tx: LedgerTransaction | None) -> Iterator[LedgerTransaction]:
        if tx is not None:
            yield tx
            return
        with self.ledger.transaction() as own:
            yield own

    def ingest_appointment(self, appointment: Appointment, *, tx: LedgerTransaction | None = None) -> Outcome:
        """Record a new appointment, or what really changed in a known one; nothing for a repeat."""
        with self._transaction(tx) as tx:
            # Taken first: concurrent workers then read each other's committed rows, never race.
            lock_head(tx.session)
            if tx.is_tombstoned("appointment", appointment.id):
                return "tombstoned"
            row = tx.session.get(BookingAppointment, appointment.id)
            now = self.clock()
            persons = [p for p in classify.people(appointment, self.ledger.keys.phone_region)
                       if p.customer_id is None or not tx.is_tombstoned("customer", p.customer_id)]
            previous = row.digest_map() if row is not None and row.state == ACTIVE else {}
            digests = {p.key: _merged(previous.get(p.key), classify.content_digests(self._digest_key, appointment, p))
                       for p in persons or [classify.booking_only(appointment)]}
            changed = [key for key, digest in digests.items() if previous.get(key) != digest]
            outcome: Outcome = "unchanged" if row is not None and row.state == ACTIVE and not changed else (
                "collected" if row is None else "updated")
            if outcome == "unchanged":
                row.graph_version = classify.graph_version(appointment)  # type: ignore[union-attr]
                return outcome
            subjects = self._record(tx, appointment, persons, row, previous, digests, now, outcome)
            self._save(tx, appointment, row, subjects, digests, now)
            return outcome

    def record_gone(
        self, business_id: str, appointment_id: str, *, reason: Literal["cancelled", "deleted"] = "cancelled",
        tx: LedgerTransaction | None = None,
    ) -> GoneOutcome:
        """Record that Graph no longer has the appointment; nothing if the ledger knew it as gone."""
        with self._transaction(tx) as tx:
            lock_head(tx.session)
            row = tx.session.get(BookingAppointment, appointment_id)
            if row is None or row.state != ACTIVE or tx.is_tombstoned("appointment", appointment_id):
                return "unchanged"
            refs = {"appointment": appointment_id}
            for subject in list(row.subject_map().values()) or [None]:
                live = subject if subject is not None and self._active(tx, subject) else None
                tx.append("cancelled", subject=live, refs=refs, business=business_id, reason=reason)
            row.state, row.updated_at = CANCELLED, format_time(self.clock())
            return "cancelled"

    def known_appointments(self, business_id: str, start: datetime, end: datetime) -> set[str]:
        """Ids of the active appointments the ledger holds whose time overlaps [start, end)."""
        with self.ledger.transaction() as tx:
            return known_in_window(tx.session, business_id, format_time(start), format_time(end))

    def graph_versions(self, appointment_ids: list[str]) -> dict[str, str]:
        """Appointment id -> Graph version stamp the ledger holds, for the active ones among the ids."""
        # A read-only snapshot: on SQLite it does not wait for, or hold, the write lock.
        with read_only(self.ledger.engine) as connection, Session(bind=connection) as session:
            return graph_versions(session, appointment_ids)

    def ingest_customer(self, customer: Customer, *, tx: LedgerTransaction | None = None) -> Outcome:
        """Record a new customer record, or a real change to a known one; nothing for a repeat."""
        with self._transaction(tx) as tx:
            lock_head(tx.session)
            if tx.is_tombstoned("customer", customer.id):
                return "tombstoned"
            row = tx.session.get(BookingCustomer, (customer.business_id, customer.id))
            person = classify.customer_record(customer, self.ledger.keys.phone_region)
            digest = classify.record_digest(self._digest_key, person)
            known = row is not None and row.state == ACTIVE
            if known and row.digest == digest:  # type: ignore[union-attr]
                return "unchanged"
            outcome: Outcome = "updated" if known else "collected"
            now = self.clock()
            subject = self._subject(tx, customer.business_id, person, row.subject_ref if row else None)
            tx.collect(subject, person.values, category=STORED_CATEGORY, purpose=STORED_PURPOSE, kind=outcome,
                       refs={"customer": customer.id}, business=customer.business_id,
                       **self._stamps(person.paths, None, digest, now))
            row = tx.session.get(BookingCustomer, (customer.business_id, customer.id))
            row.state, row.digest = ACTIVE, digest  # type: ignore[union-attr]
            tx.session.flush()
            return outcome

    def record_customer_gone(
        self, business_id: str, customer_id: str, *, tx: LedgerTransaction | None = None,
    ) -> GoneOutcome:
        """Record that Graph no longer has the customer record; the id keeps its subject for appointments."""
        with self._transaction(tx) as tx:
            lock_head(tx.session)
            row = tx.session.get(BookingCustomer, (business_id, customer_id))
            if row is None or row.state != ACTIVE or tx.is_tombstoned("customer", customer_id):
                return "unchanged"
            live = row.subject_ref if self._active(tx, row.subject_ref) else None
            tx.append("cancelled", subject=live, refs={"customer": customer_id}, business=business_id, reason="deleted")
            row.state, row.updated_at = CANCELLED, format_time(self.clock())
            return "cancelled"

    def known_customers(self, business_id: str) -> set[str]:
        """Ids of the business's customer records the ledger holds as active."""
        with self.ledger.transaction() as tx:
            return known_customers(tx.session, business_id)

    def link_event(self, tx: LedgerTransaction, appointment_id: str, event_id: str) -> None:
        """Remember which mailbox event is the appointment's calendar copy (saves a lookup next time)."""
        row = tx.session.get(BookingAppointment, appointment_id)
        if row is not None:
            row.event_id = event_id

    def _record(
        self, tx: LedgerTransaction, appointment: Appointment, persons: list[Person], row: BookingAppointment | None,
        previous: dict[str, list[str | None]], digests: dict[str, list[str | None]], now: datetime, outcome: Outcome,
    ) -> dict[str, str]:
        """Write the entries of the persons whose content changed; returns key -> subject of all."""
        known = row.subject_map() if row is not None else {}
        subjects = {}
        for person in persons:
            subject = self._subject(tx, appointment.business_id, person, known.get(person.key))
            subjects[person.key] = subject
            if previous.get(person.key) != digests[person.key]:
                kind = "updated" if person.key in previous else "collected"
                tx.collect(subject, person.values, category=STORED_CATEGORY, purpose=STORED_PURPOSE, kind=kind,
                           **self._details(appointment, person, digests[person.key][0], now))
        if not persons:
            nobody = classify.booking_only(appointment)
            tx.append(outcome, **self._details(appointment, nobody, digests[nobody.key][0], now))
        return subjects

    def _details(self, appointment: Appointment, person: Person, digest: str | None, now: datetime) -> dict[str, object]:
        refs = {"appointment": appointment.id}
        if person.customer_id:
            refs["customer"] = person.customer_id
        return {"refs": refs, "business": appointment.business_id, **self._stamps(person.paths, appointment.end, digest, now)}

    def _stamps(self, paths: dict[str, str], end: datetime | None, digest: str | None, now: datetime) -> dict[str, object]:
        """Categories with purpose, legal basis and retention_until; notice and policy versions; digest."""
        return {
            "classes": classify.classes(self.policy, paths, end, now),
            "notice_version": self.policy.notice_version, "policy_version": self.policy.policy_version,
            "content_digest": digest,
        }

    def _subject(self, tx: LedgerTransaction, business_id: str, person: Person, known: str | None) -> str:
        """The person's subject: as on this appointment, by customer id, by email in this business, or new."""
        candidates = [known]
        if person.customer_id:
            link = tx.session.get(BookingCustomer, (business_id, person.customer_id))
            candidates.append(link.subject_ref if link else None)
        candidates += self._by_email(tx, business_id, person)
        subject = next((c for c in candidates if c and self._active(tx, c)), None) or tx.new_subject()
        if person.customer_id:
            tx.session.merge(BookingCustomer(business_id=business_id, customer_id=person.customer_id,
                                             subject_ref=subject, updated_at=format_time(self.clock())))
        return subject

    @staticmethod
    def _by_email(tx: LedgerTransaction, business_id: str, person: Person) -> list[str]:
        email = person.values.get("email")
        if email is None:
            return []
        try:
            found = tx.find_subjects(email=email)
        except IdentifierError:
            return []
        return subjects_of_business(tx.session, business_id, found)

    @staticmethod
    def _active(tx: LedgerTransaction, subject: str) -> bool:
        projection = tx.subject(subject)
        return projection is not None and projection.status == "active"

    def _save(
        self, tx: LedgerTransaction, appointment: Appointment, row: BookingAppointment | None,
        subjects: dict[str, str], digests: dict[str, list[str | None]], now: datetime,
    ) -> None:
        if row is None:
            row = BookingAppointment(appointment_id=appointment.id, business_id=appointment.business_id)
            tx.session.add(row)
        paths = {path: path for path in classify.ALL_PATHS}
        deadlines = [c["retention_until"] for c in classify.classes(self.policy, paths, appointment.end, now).values()]
        row.start_at = format_time(appointment.start) if appointment.start else None
        row.end_at = format_time(appointment.end) if appointment.end else None
        row.state, row.subjects, row.digests = ACTIVE, json.dumps(subjects), json.dumps(digests)
        row.retention_until = min(deadlines)  # type: ignore[type-var]
        row.graph_version, row.updated_at = classify.graph_version(appointment), format_time(now)
        tx.session.flush()


def _merged(previous: list[str | None] | None, current: tuple[str, str | None]) -> list[str | None]:
    """[shown, notes] digests; notes a list omitted keep their earlier digest (see classify)."""
    shown, notes = current
    return [shown, notes if notes is not None or previous is None else previous[1]]
