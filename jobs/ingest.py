"""Ingestion: turn the truth Graph returns about an appointment into ledger entries, exactly once.

The API the worker and reconciliation call (stable):

    ingestor = Ingestor(ledger, policy, clock=clock, on_child_flagged=None)   # told of each new child flag
    ingestor.ingest_appointment(appointment, tx=None) -> "collected" | "updated" | "unchanged" | "tombstoned"
    ingestor.record_gone(business_id, appointment_id, reason="cancelled" | "deleted", tx=None)
        -> "cancelled" | "unchanged"
    ingestor.known_appointments(business_id, start, end) -> set[str]   # active ids overlapping [start, end)
    ingestor.graph_versions(appointment_ids) -> dict[str, str]         # stored Graph version stamps
    ingestor.erased_appointments(appointment_ids) -> set[str]          # never to be read again
    ingestor.ingest_customer(customer, tx=None) -> "collected" | "updated" | "unchanged" | "tombstoned"
    ingestor.record_customer_gone(business_id, customer_id, tx=None) -> "cancelled" | "unchanged"
    ingestor.known_customers(business_id) -> set[str]                 # active customer record ids

Each call runs in its own ledger transaction, or inside `tx` when one is given (the worker writes
a whole batch and acknowledges its inbox rows in one transaction).

What is written (docs/ingestion.md): a new appointment gives one `collected` entry per customer
on it (per data subject; one subject-less entry when it has no customer); a known one gives
`updated` entries only for the customers whose content digest changed; a cancelled or deleted
one gives `cancelled` (and starts the retention clocks of the policy's `cancellation` categories).
A business's customer record (read by reconciliation) is recorded the same way under the subject
its customer id already has: `collected` when first seen, `updated`
when its digest changed, `cancelled` when Graph no longer lists it. Personal values go only
through `tx.collect` (encrypted); entries carry field names, categories with purpose, legal basis
and the policy's period and clock, the privacy-notice and policy versions: nothing a person's
data determines (ledger format 2). What is derived from the data lives in the mutable mirror
(state/bookings_mirror.py): the times, and the content digests, keyed by a key derived from the
subject's own secret so they die with it; the retention due dates in state/retention_dues.py.
Tombstoned appointments and customers are never ingested again. A subject under a restriction or
an objection (state/subject_restrictions.py; an opt-out of marketing is not one: the booking is still
provided) has its changes recorded (`restricted`: true, the mirror and the retention clocks kept
current) but none of its new values collected. A customer whose custom-question
answer the policy's `[children]` rule matches is flagged as a child, and every new record of a
flagged subject has its erasure planned (jobs/children.py).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from config.retention import RetentionPolicy
from connector.models import Appointment, Customer
from database.engine import read_only
from database.times import format_time
from jobs import children, classify
from jobs.classify import Person
from ledger.identifiers import IdentifierError
from ledger.entries import lock_head
from ledger.transactions import Clock, Ledger, LedgerTransaction
from state import bookings_mirror, business_time_zones, retention_dues, subject_restrictions
from state.bookings_mirror import ACTIVE, CANCELLED, Digests

Outcome = Literal["collected", "updated", "unchanged", "tombstoned"]
GoneOutcome = Literal["cancelled", "unchanged"]
# The purpose personal_data rows are stored under; each field's data category comes from the policy.
STORED_PURPOSE = "appointment"


class Ingestor:
    """Writes collected/updated/cancelled entries for Bookings appointments, idempotently."""

    def __init__(self, ledger: Ledger, policy: RetentionPolicy, *, clock: Clock,
                 on_child_flagged: Callable[[], None] | None = None) -> None:
        classify.check_policy(policy)
        self.ledger, self.policy, self.clock = ledger, policy, clock
        self.on_child_flagged = on_child_flagged
        self._cancellation_categories = classify.cancellation_categories(policy)
        # Only for appointments without customers, whose fields describe no one (see classify.digest_key).
        self._booking_key = classify.digest_key(ledger.keys.blind_index_key)

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
            known = bookings_mirror.appointment(tx.session, appointment.id)
            if known is not None and known.state == CANCELLED:
                # Graph answered that it is gone (Bookings never reuses an appointment id): this is a
                # read taken before the cancellation, committed after it, and must not collect again.
                return "unchanged"
            live = known is not None and known.state == ACTIVE
            previous = known.digests if live else {}
            persons = [p for p in classify.people(appointment, self.ledger.keys.phone_region)
                       if p.customer_id is None or not tx.is_tombstoned("customer", p.customer_id)]
            subjects = {p.key: s for p in persons
                        if live and (s := known.subjects.get(p.key)) and self._active(tx, s)}  # type: ignore[union-attr]
            digests = self._digests(tx, appointment, persons, subjects, previous)
            if live and len(subjects) == len(persons) and all(previous.get(k) == d for k, d in digests.items()):
                bookings_mirror.set_graph_version(tx.session, appointment.id, classify.graph_version(appointment))
                return "unchanged"
            outcome: Outcome = "collected" if known is None else "updated"
            # A known, active subject stays the person's subject, so only the others need digests now.
            missing = [p for p in persons if p.key not in subjects]
            for person in missing:
                subjects[person.key] = self._subject(tx, appointment.business_id, person, None)
            if missing:
                digests.update(self._digests(tx, appointment, missing, subjects, previous))
            self._record(tx, appointment, persons, subjects, previous, digests, outcome)
            self._save(tx, appointment, persons, subjects, digests)
            self._flag_children(tx, appointment, persons, subjects)
            return outcome

    def _flag_children(self, tx: LedgerTransaction, appointment: Appointment, persons: list[Person],
                       subjects: dict[str, str]) -> None:
        """Flag the customers the policy's `[children]` rule matches (jobs/children.py); a subject
        flagged before has this appointment's erasure planned too."""
        matched = {classify.customer_key(info, index): part for index, info in enumerate(appointment.customers)
                   if (part := children.rule_matches(self.policy, info))}
        for person in persons:
            subject = subjects[person.key]
            if person.key in matched:
                flagged = children.record_child(tx, subject, now=self.clock(), by_rule=matched[person.key])
                if flagged.flagged_seq is not None and self.on_child_flagged is not None:
                    self.on_child_flagged()
            elif children.is_flagged(tx.session, subject):
                children.plan_erasure(tx.session, subject, self.clock())

    def record_gone(
        self, business_id: str, appointment_id: str, *, reason: Literal["cancelled", "deleted"] = "cancelled",
        tx: LedgerTransaction | None = None,
    ) -> GoneOutcome:
        """Record that Graph no longer has the appointment; nothing if the ledger knew it as gone."""
        with self._transaction(tx) as tx:
            lock_head(tx.session)
            known = bookings_mirror.appointment(tx.session, appointment_id)
            if known is None or known.state != ACTIVE or tx.is_tombstoned("appointment", appointment_id):
                return "unchanged"
            refs = {"appointment": appointment_id}
            for subject in list(known.subjects.values()) or [None]:
                live = subject if subject is not None and self._active(tx, subject) else None
                tx.append("cancelled", subject=live, refs=refs, business=business_id, reason=reason)
            bookings_mirror.mark_appointment_gone(tx.session, appointment_id, format_time(self.clock()))
            # Categories kept "until cancellation + period" start counting now.
            retention_dues.start_clocks(tx.session, "appointment", appointment_id, self._cancellation_categories,
                                        self.clock(), business_time_zones.zone(tx.session, business_id))
            return "cancelled"

    def known_appointments(self, business_id: str, start: datetime, end: datetime) -> set[str]:
        """Ids of the active appointments the ledger holds whose time overlaps [start, end)."""
        with self.ledger.transaction() as tx:
            return bookings_mirror.known_in_window(tx.session, business_id, format_time(start), format_time(end))

    def graph_versions(self, appointment_ids: list[str]) -> dict[str, str]:
        """Appointment id -> Graph version stamp the ledger holds, for the active ones among the ids."""
        with self._snapshot() as session:
            return bookings_mirror.graph_versions(session, appointment_ids)

    def erased_appointments(self, appointment_ids: list[str]) -> set[str]:
        """Those of the ids whose appointment was erased: a sweep reads them from Graph never again."""
        with self._snapshot() as session:
            return bookings_mirror.erased_appointments(session, appointment_ids)

    def ingest_customer(self, customer: Customer, *, tx: LedgerTransaction | None = None) -> Outcome:
        """Record a new customer record, or a real change to a known one; nothing for a repeat."""
        with self._transaction(tx) as tx:
            lock_head(tx.session)
            if tx.is_tombstoned("customer", customer.id):
                return "tombstoned"
            row = bookings_mirror.customer(tx.session, customer.business_id, customer.id)
            person = classify.customer_record(customer, self.ledger.keys.phone_region)
            known = row is not None and row.state == ACTIVE
            linked = row.subject_ref if row is not None and row.subject_ref and self._active(tx, row.subject_ref) else None
            if known and linked and row.digest == self._record_digest(tx, linked, person):  # type: ignore[union-attr]
                return "unchanged"
            outcome: Outcome = "updated" if known else "collected"
            subject = self._subject(tx, customer.business_id, person, linked)
            if subject_restrictions.is_restricted(tx.session, subject):
                tx.append(outcome, subject=subject, restricted=True, refs={"customer": customer.id},
                          business=customer.business_id, **self._stamps(person.paths))
            else:
                tx.collect(subject, person.values, categories=self._categories(person), purpose=STORED_PURPOSE,
                           kind=outcome, refs={"customer": customer.id}, business=customer.business_id,
                           **self._stamps(person.paths))
            bookings_mirror.save_customer_record(tx.session, customer.business_id, customer.id,
                                                 self._record_digest(tx, subject, person))
            retention_dues.set_due_dates(tx.session, "customer", customer.id, subject,
                                         classify.due_clocks(self.policy, person.paths, None, self.clock()),
                                         business_id=customer.business_id,
                                         zone=business_time_zones.zone(tx.session, customer.business_id))
            if children.is_flagged(tx.session, subject):
                children.plan_erasure(tx.session, subject, self.clock())
            return outcome

    def record_customer_gone(
        self, business_id: str, customer_id: str, *, tx: LedgerTransaction | None = None,
    ) -> GoneOutcome:
        """Record that Graph no longer has the customer record; the id keeps its subject for appointments."""
        with self._transaction(tx) as tx:
            lock_head(tx.session)
            row = bookings_mirror.customer(tx.session, business_id, customer_id)
            if row is None or row.state != ACTIVE or tx.is_tombstoned("customer", customer_id):
                return "unchanged"
            live = row.subject_ref if row.subject_ref and self._active(tx, row.subject_ref) else None
            tx.append("cancelled", subject=live, refs={"customer": customer_id}, business=business_id, reason="deleted")
            bookings_mirror.mark_customer_gone(tx.session, business_id, customer_id, format_time(self.clock()))
            return "cancelled"

    def known_customers(self, business_id: str) -> set[str]:
        """Ids of the business's customer records the ledger holds as active."""
        with self.ledger.transaction() as tx:
            return bookings_mirror.known_customers(tx.session, business_id)

    def link_event(self, tx: LedgerTransaction, appointment_id: str, event_id: str) -> None:
        """Remember which mailbox event is the appointment's calendar copy (saves a lookup next time)."""
        bookings_mirror.link_event(tx.session, appointment_id, event_id)

    @contextmanager
    def _snapshot(self) -> Iterator[Session]:
        # A read-only snapshot: on SQLite it does not wait for, or hold, the write lock.
        with read_only(self.ledger.engine) as connection, Session(bind=connection) as session:
            yield session

    def _digests(
        self, tx: LedgerTransaction, appointment: Appointment, persons: list[Person], subjects: dict[str, str],
        previous: Digests,
    ) -> Digests:
        """Customer key -> content digests, each person's under its subject's key (persons without a
        subject yet get none); the booking's own fields when it has no customer."""
        if not persons:
            nobody = classify.booking_only(appointment)
            return {nobody.key: _merged(previous.get(nobody.key), classify.content_digests(self._booking_key, appointment, nobody))}
        return {p.key: _merged(previous.get(p.key), classify.content_digests(self._subject_key(tx, subjects[p.key]), appointment, p))
                for p in persons if p.key in subjects}

    def _record_digest(self, tx: LedgerTransaction, subject: str, person: Person) -> str:
        return classify.record_digest(self._subject_key(tx, subject), person)

    @staticmethod
    def _subject_key(tx: LedgerTransaction, subject: str) -> bytes:
        """The digest key of one subject: derived from its own secret, so it dies with the subject."""
        return classify.digest_key(tx.subject_secret(subject))

    def _record(
        self, tx: LedgerTransaction, appointment: Appointment, persons: list[Person], subjects: dict[str, str],
        previous: Digests, digests: Digests, outcome: Outcome,
    ) -> None:
        """Write the entries of the persons whose content changed (or the booking's, without customers);
        a restricted subject's change is recorded without its values (only storage is allowed)."""
        restricted = subject_restrictions.in_force(tx.session, list(subjects.values()), kinds=subject_restrictions.STORAGE_ONLY)
        for person in persons:
            if previous.get(person.key) != digests[person.key]:
                kind = "updated" if person.key in previous else "collected"
                if subjects[person.key] in restricted:
                    tx.append(kind, subject=subjects[person.key], restricted=True, **self._details(appointment, person))
                    continue
                tx.collect(subjects[person.key], person.values, categories=self._categories(person), purpose=STORED_PURPOSE,
                           kind=kind, **self._details(appointment, person))
        if not persons:
            tx.append(outcome, **self._details(appointment, classify.booking_only(appointment)))

    def _details(self, appointment: Appointment, person: Person) -> dict[str, object]:
        refs = {"appointment": appointment.id}
        if person.customer_id:
            refs["customer"] = person.customer_id
        return {"refs": refs, "business": appointment.business_id, **self._stamps(person.paths)}

    def _categories(self, person: Person) -> dict[str, str]:
        """Stored field name -> the policy's data category of its Graph field (its own data key)."""
        return classify.categories(self.policy, person.paths)

    def _stamps(self, paths: dict[str, str]) -> dict[str, object]:
        """Categories with purpose, legal basis, the policy's period and clock; notice and policy versions."""
        return {"classes": classify.classes(self.policy, paths),
                "notice_version": self.policy.notice_version, "policy_version": self.policy.policy_version}

    def _subject(self, tx: LedgerTransaction, business_id: str, person: Person, known: str | None) -> str:
        """The person's subject: as on this appointment, by customer id, by email in this business, or new."""
        candidates = [known]
        if person.customer_id:
            link = bookings_mirror.customer(tx.session, business_id, person.customer_id)
            candidates.append(link.subject_ref if link else None)
        candidates += self._by_email(tx, business_id, person)
        subject = next((c for c in candidates if c and self._active(tx, c)), None) or tx.new_subject()
        if person.customer_id:
            bookings_mirror.link_customer(tx.session, business_id, person.customer_id, subject, format_time(self.clock()))
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
        return bookings_mirror.subjects_of_business(tx.session, business_id, found)

    @staticmethod
    def _active(tx: LedgerTransaction, subject: str) -> bool:
        projection = tx.subject(subject)
        return projection is not None and projection.status == "active"

    def _save(
        self, tx: LedgerTransaction, appointment: Appointment, persons: list[Person], subjects: dict[str, str],
        digests: Digests,
    ) -> None:
        now = self.clock()
        bookings_mirror.save_appointment(
            tx.session, appointment.id, appointment.business_id,
            start=format_time(appointment.start) if appointment.start else None,
            end=format_time(appointment.end) if appointment.end else None,
            subjects=subjects, digests=digests, graph_version=classify.graph_version(appointment), now=format_time(now),
        )
        zone = business_time_zones.zone(tx.session, appointment.business_id)
        for person in persons:
            retention_dues.set_due_dates(tx.session, "appointment", appointment.id, subjects[person.key],
                                         classify.due_clocks(self.policy, person.paths, appointment.end, now),
                                         business_id=appointment.business_id, zone=zone)


def _merged(previous: list[str | None] | None, current: tuple[str, str | None]) -> list[str | None]:
    """[shown, notes] digests; notes a list omitted keep their earlier digest (see classify)."""
    shown, notes = current
    return [shown, notes if notes is not None or previous is None else previous[1]]
