"""The future appointments an erasure request would touch, from the Bookings mirror, for the
officer to choose per appointment: cancel it with a message, or keep it (anonymised in place).

The subjects are found as the request's run finds them: every subject sharing a blind index
(email or phone digest) with the requester's contact details, in every business. Nothing is
decrypted: the digests are compared as they are stored, and the page shows appointment ids,
businesses and times, never a name.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from database.times import format_time
from ledger.models import BlindIndex
from state.bookings_mirror import ACTIVE, BookingAppointment, subject_records

ERASURE_TYPES = ("erasure", "child-erasure")


@dataclass(frozen=True)
class FutureAppointment:
    """An active appointment that has not started yet."""

    appointment_id: str
    business_id: str
    start_at: str


def future_appointments(session: Session, requester_ref: str, now: datetime) -> list[FutureAppointment]:
    """The active appointments, starting after `now`, of every subject the requester's contact
    details match; the soonest first."""
    appointment_ids = {appointment_id for subject in matching_subjects(session, requester_ref)
                       for appointment_id in subject_records(session, subject).appointments}
    if not appointment_ids:
        return []
    rows = session.execute(
        select(BookingAppointment.appointment_id, BookingAppointment.business_id, BookingAppointment.start_at)
        .where(BookingAppointment.appointment_id.in_(sorted(appointment_ids)), BookingAppointment.state == ACTIVE,
               BookingAppointment.start_at > format_time(now))
        .order_by(BookingAppointment.start_at, BookingAppointment.appointment_id))
    return [FutureAppointment(*row) for row in rows]


def matching_subjects(session: Session, requester_ref: str) -> list[str]:
    """The subjects other than the requester's own that share one of its blind indexes."""
    digests = select(BlindIndex.digest).where(BlindIndex.subject_ref == requester_ref)
    query = select(BlindIndex.subject_ref).where(BlindIndex.digest.in_(digests), BlindIndex.subject_ref != requester_ref)
    return sorted(set(session.scalars(query)))
