"""What the privacy officer must be told: one row per alert, until they acknowledge it.

    officer_alerts   id, kind (e.g. `child-flagged`), the subject's random ref, when it was raised,
                     when it was acknowledged (NULL while open), who raised it (`rule` or the
                     officer's name) and their note (an officer's free-text reason)

No data subject's values: the dashboard shows the open alerts and links to the subject, whose
data it reads through the ledger (which records the view). The names and the note are free text,
so they live here, in the mutable working state, never in the chain, and the note goes when the
subject is erased (`forget_notes`, run by jobs/erasure.py). Migration 0013_legal_holds creates
the table.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from database.base import NAME, REF, TIME, Base

KINDS = ("child-flagged",)


class OfficerAlert(Base):
    """One alert for the privacy officer."""

    __tablename__ = "officer_alerts"
    id: Mapped[str] = mapped_column(REF, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    subject_ref: Mapped[str | None] = mapped_column(REF, index=True)
    created_at: Mapped[str] = mapped_column(TIME)
    acknowledged_at: Mapped[str | None] = mapped_column(TIME, nullable=True, index=True)
    raised_by: Mapped[str] = mapped_column(NAME)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


@dataclass(frozen=True)
class Alert:
    """An alert as plain values."""

    id: str
    kind: str
    subject_ref: str | None
    created_at: str
    acknowledged_at: str | None
    raised_by: str
    note: str | None


def raise_alert(session: Session, kind: str, subject_ref: str | None, now: str, *, raised_by: str,
                note: str | None = None) -> Alert:
    """Record a new open alert (in the caller's transaction)."""
    if kind not in KINDS:
        raise ValueError(f"unknown alert kind {kind!r}")
    row = OfficerAlert(id=secrets.token_hex(16), kind=kind, subject_ref=subject_ref, created_at=now, raised_by=raised_by,
                       note=note)
    session.add(row)
    session.flush()
    return _plain(row)


def open_alerts(session: Session) -> list[Alert]:
    """The alerts not acknowledged yet, oldest first."""
    rows = session.scalars(select(OfficerAlert).where(OfficerAlert.acknowledged_at.is_(None))
                           .order_by(OfficerAlert.created_at, OfficerAlert.id))
    return [_plain(row) for row in rows]


def acknowledge(session: Session, alert_id: str, now: str) -> bool:
    """Mark an open alert as seen; False when there is no open alert with that id."""
    row = session.get(OfficerAlert, alert_id)
    if row is None or row.acknowledged_at is not None:
        return False
    row.acknowledged_at = now
    return True


def forget_notes(session: Session, subject_ref: str) -> None:
    """Drop the free-text notes of the subject's alerts (it is erased; ids, kinds and times stay)."""
    session.execute(update(OfficerAlert).where(OfficerAlert.subject_ref == subject_ref).values(note=None))


def _plain(row: OfficerAlert) -> Alert:
    return Alert(row.id, row.kind, row.subject_ref, row.created_at, row.acknowledged_at, row.raised_by, row.note)
