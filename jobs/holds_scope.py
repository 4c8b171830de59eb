"""Where a subject's data lives, for the ledger's legal-hold guard (`Ledger(hold_scope=...)`).

The ledger sees subject holds itself; a hold on an appointment or on a whole business covers the
subject only through the Bookings mirror, which the ledger may not read (DESIGN.md's layout), so
bookings_ledger/wiring.py hands it this function, as it hands it `erase_working_state`.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from state import bookings_mirror


def subject_scope(session: Session, subject: str) -> tuple[list[str], list[str]]:
    """The ids of the subject's appointments and of every business it has an appointment or a customer record in."""
    records = bookings_mirror.subject_records(session, subject)
    return list(records.appointments), sorted(records.business_ids)
