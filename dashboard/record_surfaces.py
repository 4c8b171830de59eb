"""Where one Graph record lives, as far as the service knows without asking Graph: the Bookings
mirror, the anonymisation of it and its steps, its retention due dates, its tombstone, its entries.

The dashboard never calls Graph (it may not import the connector): this is the working state the
jobs keep, which is what the privacy officer needs to see where a record stands.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.entries import EntryRow, record_entries
from ledger.models import RecordProjection, Tombstone
from state import anonymisation, retention_dues
from state.anonymisation import AnonymisationOperation, PlannedOperation, Step
from state.bookings_mirror import BookingAppointment, BookingCustomer
from state.retention_dues import RetentionDue


@dataclass(frozen=True)
class Anonymisation:
    """One anonymisation operation of the record, with its persisted steps and their evidence."""

    operation: PlannedOperation
    steps: list[Step]


@dataclass(frozen=True)
class RecordSurfaces:
    """Everything the record page shows (ids, states, codes and Graph request ids: no personal data)."""

    object_type: str
    object_id: str
    record: RecordProjection | None
    appointment: BookingAppointment | None
    customers: list[BookingCustomer]
    anonymisations: list[Anonymisation]
    dues: list[RetentionDue]
    tombstone: Tombstone | None
    entries: list[EntryRow]

    @property
    def known(self) -> bool:
        return any((self.record, self.appointment, self.customers, self.anonymisations, self.dues, self.tombstone))


def surfaces(session: Session, object_type: str, object_id: str) -> RecordSurfaces:
    """What the service knows of the record (`known` is False when nothing)."""
    record = session.get(RecordProjection, (object_type, object_id))
    appointment = session.get(BookingAppointment, object_id) if object_type == "appointment" else None
    customers = list(session.scalars(select(BookingCustomer).where(BookingCustomer.customer_id == object_id)
                                     .order_by(BookingCustomer.business_id))) if object_type == "customer" else []
    operations = [anonymisation.operation(session, operation_id) for operation_id in session.scalars(
        select(AnonymisationOperation.id).where(AnonymisationOperation.object_type == object_type,
                                                AnonymisationOperation.object_id == object_id)
        .order_by(AnonymisationOperation.created_at))]
    anonymisations = [Anonymisation(op, sorted(anonymisation.steps(session, op.id).values(), key=lambda s: s.name))
                      for op in operations if op is not None]
    dues = sorted(retention_dues.object_dues(session, object_type, object_id), key=lambda d: (d.subject_ref, d.category))
    subjects = {record.subject_ref} if record is not None and record.subject_ref else set()
    subjects |= set(appointment.subject_map().values()) if appointment is not None else set()
    subjects |= {c.subject_ref for c in customers if c.subject_ref}
    subjects |= {d.subject_ref for d in dues} | {a.operation.subject_ref for a in anonymisations}
    return RecordSurfaces(object_type, object_id, record, appointment, customers, anonymisations, dues,
                          session.get(Tombstone, (object_type, object_id)),
                          record_entries(session, object_type, object_id, subjects))


def business_of(session: Session, records: list[RecordProjection]) -> dict[tuple[str, str], str]:
    """(type, id) -> business id, for the records the mirror links to a business."""
    appointment_ids = [r.object_id for r in records if r.object_type == "appointment"]
    customer_ids = [r.object_id for r in records if r.object_type == "customer"]
    found = {("appointment", i): b for i, b in session.execute(select(
        BookingAppointment.appointment_id, BookingAppointment.business_id).where(BookingAppointment.appointment_id.in_(appointment_ids)))}
    found.update({("customer", i): b for i, b in session.execute(select(
        BookingCustomer.customer_id, BookingCustomer.business_id).where(BookingCustomer.customer_id.in_(customer_ids)))})
    return found
