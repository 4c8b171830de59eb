"""Ingestion's projection of Bookings: which appointments and customers the ledger holds.

    booking_appointments  one row per appointment: business, start/end, state, the random
                          subject of each customer on it, the keyed digest of each customer's
                          content (change detection), retention_until, Graph's version stamp
                          and the mailbox event it was matched to
    booking_customers     the subject a business's Bookings customer id belongs to and, once
                          reconciliation has read the customer record itself, its state and
                          the keyed digest of its content (NULL for ids known only from
                          appointments)

No personal values: those live encrypted in `personal_data`. Times use the ledger's text format
(`entries.format_time`), so `known_in_window` compares them as text on SQLite and PostgreSQL alike.
Updated in the same transaction as the ledger entries they reflect (migration 0003 creates them,
0006 adds the customer record columns).
"""
from __future__ import annotations

import json

from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from database.base import REF, TIME, Base

ACTIVE = "active"
CANCELLED = "cancelled"


class BookingAppointment(Base):
    """The ledger's view of one Bookings appointment."""

    __tablename__ = "booking_appointments"
    appointment_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    business_id: Mapped[str] = mapped_column(String(320), index=True)
    start_at: Mapped[str | None] = mapped_column(TIME, index=True)
    end_at: Mapped[str | None] = mapped_column(TIME)
    state: Mapped[str] = mapped_column(String(16))                  # active | cancelled
    subjects: Mapped[str] = mapped_column(Text, default="{}")       # JSON {customer key: subject ref}
    digests: Mapped[str] = mapped_column(Text, default="{}")        # JSON {customer key: [digest, notes digest]}
    retention_until: Mapped[str | None] = mapped_column(TIME)       # the earliest category's deadline
    graph_version: Mapped[str | None] = mapped_column(String(64))   # Graph's lastUpdatedDateTime
    event_id: Mapped[str | None] = mapped_column(String(512), index=True)
    updated_at: Mapped[str] = mapped_column(TIME)

    def subject_map(self) -> dict[str, str]:
        """Customer key -> subject ref."""
        return dict(json.loads(self.subjects or "{}"))

    def digest_map(self) -> dict[str, list[str | None]]:
        """Customer key -> keyed content digests (hex): [fields lists show, notes only GET-by-id shows]."""
        return dict(json.loads(self.digests or "{}"))


class BookingCustomer(Base):
    """A Bookings customer id of one business, and the random subject it belongs to."""

    __tablename__ = "booking_customers"
    business_id: Mapped[str] = mapped_column(String(320), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    subject_ref: Mapped[str] = mapped_column(REF, index=True)
    updated_at: Mapped[str] = mapped_column(TIME)
    state: Mapped[str | None] = mapped_column(String(16))     # active | cancelled; None: no record seen
    digest: Mapped[str | None] = mapped_column(String(64))    # keyed digest of the record's content


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


def appointments_for_events(session: Session, event_ids: list[str]) -> dict[str, str]:
    """Event id -> appointment id, for the events already matched to an appointment."""
    if not event_ids:
        return {}
    query = select(BookingAppointment.event_id, BookingAppointment.appointment_id).where(
        BookingAppointment.event_id.in_(event_ids)
    )
    return {event_id: appointment_id for event_id, appointment_id in session.execute(query)}


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
