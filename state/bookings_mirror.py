"""Ingestion's mirror of Bookings: which appointments and customers the ledger holds, for change detection.

    booking_appointments  one row per appointment: business, start/end, state, the random
                          subject of each customer on it, the digest of each customer's content
                          keyed by that subject's own key (change detection), Graph's version
                          stamp and the mailbox event it was matched to
    booking_customers     the subject a business's Bookings customer id belongs to and, once
                          reconciliation has read the customer record itself, its state and
                          the digest of its content under the subject's key (NULL for ids known
                          only from appointments)

No personal values: those live encrypted in `personal_data`. Times use the ledger's text format
(`database.times.format_time`), so `known_in_window` compares them as text on SQLite and
PostgreSQL alike. This is the mutable place for what the append-only chain must never hold
(appointment times, digests): `erase_subject_rows` reduces a subject's rows to ids and the state
`erased`, and no reader here returns an erased row for reconciliation to read again. Updated in
the same transaction as the ledger entries they reflect (migration 0003 creates them, 0006 adds
the customer record columns, 0008_chain_content lets an erased customer row lose its subject).
Writers go through the functions below, never by editing rows.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from database.base import REF, TIME, Base

ACTIVE = "active"
CANCELLED = "cancelled"
ERASED = "erased"
Digests = dict[str, list[str | None]]   # customer key -> [digest of what lists show, of the notes]


class BookingAppointment(Base):
    """The ledger's view of one Bookings appointment."""

    __tablename__ = "booking_appointments"
    appointment_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    business_id: Mapped[str] = mapped_column(String(320), index=True)
    start_at: Mapped[str | None] = mapped_column(TIME, index=True)
    end_at: Mapped[str | None] = mapped_column(TIME)
    state: Mapped[str] = mapped_column(String(16))                  # active | cancelled | erased
    subjects: Mapped[str] = mapped_column(Text, default="{}")       # JSON {customer key: subject ref}
    digests: Mapped[str] = mapped_column(Text, default="{}")        # JSON {customer key: [digest, notes digest]}
    graph_version: Mapped[str | None] = mapped_column(String(64))   # Graph's lastUpdatedDateTime
    event_id: Mapped[str | None] = mapped_column(String(512), index=True)
    updated_at: Mapped[str] = mapped_column(TIME)

    def subject_map(self) -> dict[str, str]:
        """Customer key -> subject ref."""
        return dict(json.loads(self.subjects or "{}"))

    def digest_map(self) -> Digests:
        """Customer key -> keyed content digests (hex): [fields lists show, notes only GET-by-id shows]."""
        return dict(json.loads(self.digests or "{}"))


class BookingCustomer(Base):
    """A Bookings customer id of one business, and the random subject it belongs to."""

    __tablename__ = "booking_customers"
    business_id: Mapped[str] = mapped_column(String(320), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    subject_ref: Mapped[str | None] = mapped_column(REF, index=True)   # None once erased
    updated_at: Mapped[str] = mapped_column(TIME)
    state: Mapped[str | None] = mapped_column(String(16))     # active | cancelled | erased; None: no record seen
    digest: Mapped[str | None] = mapped_column(String(64))    # keyed digest of the record's content


@dataclass(frozen=True)
class AppointmentSnapshot:
    """What change detection needs of a known appointment, with the transaction's view of it."""

    business_id: str
    state: str
    subjects: dict[str, str]
    digests: Digests


@dataclass(frozen=True)
class CustomerSnapshot:
    """What ingestion needs of a known customer id: its subject, and its record's state and digest."""

    subject_ref: str | None
    state: str | None
    digest: str | None


@dataclass(frozen=True)
class ErasedRows:
    """The Graph objects whose mirror rows an erasure reduced to ids and states (to tombstone)."""

    appointment_ids: list[str]
    customer_ids: list[str]

    def tombstones(self) -> list[tuple[str, str]]:
        """(object type, Graph id) pairs for `LedgerTransaction.erase_subject`."""
        return [("appointment", i) for i in self.appointment_ids] + [("customer", i) for i in self.customer_ids]


def appointment(session: Session, appointment_id: str) -> AppointmentSnapshot | None:
    """The mirror's view of an appointment, or None when it was never ingested."""
    row = session.get(BookingAppointment, appointment_id)
    if row is None:
        return None
    return AppointmentSnapshot(row.business_id, row.state, row.subject_map(), row.digest_map())


def save_appointment(
    session: Session, appointment_id: str, business_id: str, *, start: str | None, end: str | None,
    subjects: dict[str, str], digests: Digests, graph_version: str | None, now: str,
) -> None:
    """Record an appointment as active with its times, subjects and digests (new or changed)."""
    row = session.get(BookingAppointment, appointment_id)
    if row is None:
        row = BookingAppointment(appointment_id=appointment_id, business_id=business_id)
        session.add(row)
    row.start_at, row.end_at = start, end
    row.state, row.subjects, row.digests = ACTIVE, json.dumps(subjects), json.dumps(digests)
    row.graph_version, row.updated_at = graph_version, now
    session.flush()


def set_graph_version(session: Session, appointment_id: str, graph_version: str | None) -> None:
    """Remember Graph's version stamp of an appointment whose content did not change."""
    row = session.get(BookingAppointment, appointment_id)
    if row is not None:
        row.graph_version = graph_version


def mark_appointment_gone(session: Session, appointment_id: str, now: str) -> None:
    """Graph no longer has the appointment (cancelled or deleted)."""
    row = session.get(BookingAppointment, appointment_id)
    if row is not None:
        row.state, row.updated_at = CANCELLED, now


def link_event(session: Session, appointment_id: str, event_id: str) -> None:
    """Remember which mailbox event is the appointment's calendar copy (saves a lookup next time)."""
    row = session.get(BookingAppointment, appointment_id)
    if row is not None:
        row.event_id = event_id


def customer(session: Session, business_id: str, customer_id: str) -> CustomerSnapshot | None:
    """The mirror's view of a business's customer id, or None when it was never seen."""
    row = session.get(BookingCustomer, (business_id, customer_id))
    return None if row is None else CustomerSnapshot(row.subject_ref, row.state, row.digest)


def link_customer(session: Session, business_id: str, customer_id: str, subject_ref: str, now: str) -> None:
    """Point a business's customer id at its subject (the record's state and digest are kept)."""
    row = session.get(BookingCustomer, (business_id, customer_id))
    if row is None:
        session.add(BookingCustomer(business_id=business_id, customer_id=customer_id, subject_ref=subject_ref, updated_at=now))
    else:
        row.subject_ref, row.updated_at = subject_ref, now


def save_customer_record(session: Session, business_id: str, customer_id: str, digest: str) -> None:
    """Record that the customer record was read, with the keyed digest of its content."""
    row = session.get(BookingCustomer, (business_id, customer_id))
    assert row is not None, "link_customer ran first"
    row.state, row.digest = ACTIVE, digest


def mark_customer_gone(session: Session, business_id: str, customer_id: str, now: str) -> None:
    """Graph's customers list no longer has the record; the id keeps its subject for appointments."""
    row = session.get(BookingCustomer, (business_id, customer_id))
    if row is not None:
        row.state, row.updated_at = CANCELLED, now


def rewrite_appointment(session: Session, appointment_id: str, *, removed: list[str], digests: Digests,
                        graph_version: str | None, now: str) -> None:
    """After anonymisation rewrote an appointment: the `removed` customer keys leave the subject and
    digest maps, the others get the digests of what Graph now holds, and Graph's version stamp is
    the rewritten one, so a later notification or reconcile finds nothing new to collect."""
    row = session.get(BookingAppointment, appointment_id)
    if row is None:
        return
    subjects, known = row.subject_map(), row.digest_map()
    for key in removed:
        subjects.pop(key, None)
        known.pop(key, None)
    known.update({key: value for key, value in digests.items() if key in subjects})
    row.subjects, row.digests = json.dumps(subjects), json.dumps(known)
    row.graph_version, row.updated_at = graph_version, now
    session.flush()


def forget_appointment(session: Session, appointment_id: str, now: str) -> None:
    """An appointment anonymisation deleted: reduced to its id and `erased` (tombstoned by the caller)."""
    session.execute(update(BookingAppointment).where(BookingAppointment.appointment_id == appointment_id).values(
        start_at=None, end_at=None, subjects="{}", digests="{}", graph_version=None, state=ERASED, updated_at=now))
    session.expire_all()


def forget_customer(session: Session, business_id: str, customer_id: str, now: str) -> None:
    """A customer record anonymisation deleted: reduced to its id and `erased` (tombstoned by the caller)."""
    session.execute(update(BookingCustomer).where(BookingCustomer.business_id == business_id,
                                                  BookingCustomer.customer_id == customer_id)
                    .values(subject_ref=None, digest=None, state=ERASED, updated_at=now))
    session.expire_all()


def appointment_times(session: Session, appointment_id: str) -> tuple[str | None, str | None, str | None]:
    """(start, end, matched event id) of an appointment as the mirror holds them."""
    row = session.get(BookingAppointment, appointment_id)
    return (None, None, None) if row is None else (row.start_at, row.end_at, row.event_id)


def erase_subject_rows(session: Session, subject_ref: str, now: str) -> ErasedRows:
    """Reduce the subject's appointment and customer rows to ids and the state `erased`: times,
    digests, version stamps and subject links go (a group appointment goes whole: its times are
    this subject's too). Called in the erasing transaction, before the ledger's own erasure."""
    customers = sorted(session.scalars(select(BookingCustomer.customer_id).where(BookingCustomer.subject_ref == subject_ref)))
    session.execute(update(BookingCustomer).where(BookingCustomer.subject_ref == subject_ref)
                    .values(subject_ref=None, digest=None, state=ERASED, updated_at=now))
    appointments = sorted(row.appointment_id for row in _appointments_of(session, subject_ref))
    session.execute(update(BookingAppointment).where(BookingAppointment.appointment_id.in_(appointments)).values(
        start_at=None, end_at=None, subjects="{}", digests="{}", graph_version=None, state=ERASED, updated_at=now,
    ))
    session.expire_all()
    return ErasedRows(appointments, customers)


@dataclass(frozen=True)
class SubjectRecords:
    """The Graph objects of one subject the mirror knows and has not erased."""

    appointments: dict[str, str]          # appointment id -> business id
    customers: list[tuple[str, str]]      # (business id, customer id)

    @property
    def business_ids(self) -> set[str]:
        """Every business the subject has an appointment or a customer record in."""
        return set(self.appointments.values()) | {business for business, _ in self.customers}


def subject_records(session: Session, subject_ref: str) -> SubjectRecords:
    """The subject's appointments (active or cancelled) and customer ids, with their businesses."""
    customers = session.execute(select(BookingCustomer.business_id, BookingCustomer.customer_id)
                                .where(BookingCustomer.subject_ref == subject_ref)
                                .order_by(BookingCustomer.business_id, BookingCustomer.customer_id))
    appointments = {row.appointment_id: row.business_id for row in _appointments_of(session, subject_ref)}
    return SubjectRecords(dict(sorted(appointments.items())), [(b, c) for b, c in customers])


def _appointments_of(session: Session, subject_ref: str) -> list[BookingAppointment]:
    # The subjects map is JSON text: a LIKE on the quoted 32-hex ref narrows, the parse decides.
    candidates = session.scalars(select(BookingAppointment).where(BookingAppointment.subjects.contains(f'"{subject_ref}"')))
    return [row for row in candidates if subject_ref in row.subject_map().values()]


def erased_appointments(session: Session, appointment_ids: list[str]) -> set[str]:
    """Those of the ids whose appointment was erased: reconciliation reads them from Graph never again."""
    if not appointment_ids:
        return set()
    query = select(BookingAppointment.appointment_id).where(
        BookingAppointment.appointment_id.in_(appointment_ids), BookingAppointment.state == ERASED
    )
    return set(session.scalars(query))


def known_in_window(session: Session, business_id: str, start: str, end: str) -> set[str]:
    """Ids of the business's active appointments overlapping [start, end)."""
    query = select(BookingAppointment.appointment_id).where(
        BookingAppointment.business_id == business_id, BookingAppointment.state == ACTIVE,
        BookingAppointment.start_at < end, BookingAppointment.end_at > start,
    )
    return set(session.scalars(query))


def known_customers(session: Session, business_id: str) -> set[str]:
    """Ids of the business's customer records the ledger holds as active."""
    query = select(BookingCustomer.customer_id).where(
        BookingCustomer.business_id == business_id, BookingCustomer.state == ACTIVE
    )
    return set(session.scalars(query))


def appointments_for_events(session: Session, event_ids: list[str]) -> dict[str, str | None]:
    """Event id -> appointment id, for the events already matched to an appointment; None for an
    event whose appointment was erased (its notifications name nothing to read again)."""
    if not event_ids:
        return {}
    query = select(BookingAppointment.event_id, BookingAppointment.appointment_id, BookingAppointment.state).where(
        BookingAppointment.event_id.in_(event_ids)
    )
    return {event_id: None if state == ERASED else appointment_id for event_id, appointment_id, state in session.execute(query)}


def graph_versions(session: Session, appointment_ids: list[str]) -> dict[str, str]:
    """Appointment id -> Graph version stamp, for the active appointments among the ids."""
    if not appointment_ids:
        return {}
    query = select(BookingAppointment.appointment_id, BookingAppointment.graph_version).where(
        BookingAppointment.appointment_id.in_(appointment_ids), BookingAppointment.state == ACTIVE
    )
    return {appointment_id: version for appointment_id, version in session.execute(query) if version}


def subjects_of_business(session: Session, business_id: str, subject_refs: list[str]) -> list[str]:
    """Those of the subjects that are linked to a customer of this business, sorted."""
    if not subject_refs:
        return []
    query = select(BookingCustomer.subject_ref).where(
        BookingCustomer.business_id == business_id, BookingCustomer.subject_ref.in_(subject_refs)
    )
    return sorted(set(session.scalars(query)))
