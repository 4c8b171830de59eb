"""Subjects whose data may only be kept: restriction (GDPR Art. 18), objection (Art. 21; CCPA's
right to limit) and the opt-out of sale, sharing and marketing (CCPA §1798.120, Art. 21(3)).

    restrict(session, subject, kind="restriction"|"objection"|"opt-out", purpose=None, request_id=..., now=...)
    lift(session, subject, kind, now=...)            # a restriction or an objection; an opt-out never
    is_restricted(session, subject) -> bool          # a restriction or an objection in force: only storage
    has_objected(session, subject, purpose) -> bool  # an objection to that purpose (None: to all), or an opt-out

What honours them: ingestion and reconciliation record that a restricted or objecting subject's record
changed (ids, dates, the retention clocks) but collect none of its new values (jobs/ingest.py);
retention evaluation leaves the due data of a subject under a *restriction* in place, as a hold
does, so the data the subject asked to be kept is not erased under them (Art. 18(1)(b), (c)),
while an objection or an opt-out lets retention erase as usual; notices ask
`is_restricted` (docs/mail.md). One row per (subject, kind, purpose); lifting keeps the row
with its time. The subject ref, codes and times only; the ledger's `restricted`,
`restriction-lifted`, `objected` and `opted-out` entries are the record.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from database.base import REF, TIME, Base
from database.times import format_time

KINDS = ("restriction", "objection", "opt-out")
ALL_PURPOSES = "*"          # an objection to every purpose processing relies on legitimate interests for
LIFTABLE = ("restriction", "objection")   # an opt-out is honoured for good
# What limits the data to storage. An opt-out of marketing does not: the booking itself is still
# processed to provide it (GDPR Art. 6(1)(b)); the opt-out stops marketing, of which there is none here,
# and is kept for good for whatever would otherwise use the data for it.
STORAGE_ONLY = ("restriction", "objection")


class SubjectRestriction(Base):
    """One restriction, objection or opt-out of a subject."""

    __tablename__ = "subject_restrictions"
    subject_ref: Mapped[str] = mapped_column(REF, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_id: Mapped[str | None] = mapped_column(REF)
    since: Mapped[str] = mapped_column(TIME)
    lifted_at: Mapped[str | None] = mapped_column(TIME, nullable=True)


@dataclass(frozen=True)
class Restriction:
    """One row as plain values."""

    subject_ref: str
    kind: str
    purpose: str
    request_id: str | None
    since: str
    lifted_at: str | None


def restrict(session: Session, subject: str, *, kind: str, now: datetime, purpose: str | None = None,
             request_id: str | None = None) -> Restriction:
    """Put the subject under `kind` (for `purpose`, or all); idempotent, and renews a lifted one."""
    if kind not in KINDS:
        raise ValueError(f"a restriction's kind is one of {KINDS}")
    key = (subject, kind, purpose or ALL_PURPOSES)
    row = session.get(SubjectRestriction, key, with_for_update=True)
    if row is None:
        row = SubjectRestriction(subject_ref=subject, kind=kind, purpose=key[2], request_id=request_id,
                                 since=format_time(now))
        session.add(row)
    elif row.lifted_at is not None:
        row.lifted_at, row.since, row.request_id = None, format_time(now), request_id
    session.flush()
    return _plain(row)


def lift(session: Session, subject: str, kind: str, *, now: datetime, purpose: str | None = None) -> bool:
    """Lift a restriction or an objection; whether one was in force. An opt-out cannot be lifted here:
    the person opts back in themselves, which is a new consent, not an undoing."""
    if kind not in LIFTABLE:
        raise ValueError(f"only a {' or an '.join(LIFTABLE)} is lifted")
    row = session.get(SubjectRestriction, (subject, kind, purpose or ALL_PURPOSES), with_for_update=True)
    if row is None or row.lifted_at is not None:
        return False
    row.lifted_at = format_time(now)
    session.flush()
    return True


def is_restricted(session: Session, subject: str) -> bool:
    """Whether the subject's data is restricted to storage (a restriction or an objection in force)."""
    return bool(in_force(session, [subject], kinds=STORAGE_ONLY))


def has_objected(session: Session, subject: str, purpose: str) -> bool:
    """Whether the subject objected to `purpose` (or to all), or opted out (marketing and sale for good)."""
    rows = session.scalars(select(SubjectRestriction).where(
        SubjectRestriction.subject_ref == subject, SubjectRestriction.lifted_at.is_(None),
        SubjectRestriction.kind.in_(("objection", "opt-out"))))
    return any(row.kind == "opt-out" or row.purpose in (purpose, ALL_PURPOSES) for row in rows)


def in_force(session: Session, subjects: list[str], kinds: tuple[str, ...] = KINDS) -> set[str]:
    """Of these subjects, those under one of `kinds` (a restriction, an objection, an opt-out) now."""
    if not subjects:
        return set()
    query = select(SubjectRestriction.subject_ref).where(SubjectRestriction.subject_ref.in_(subjects),
                                                         SubjectRestriction.kind.in_(kinds),
                                                         SubjectRestriction.lifted_at.is_(None))
    return set(session.scalars(query))


def of_subject(session: Session, subject: str) -> list[Restriction]:
    """Every row of the subject, lifted ones included."""
    rows = session.scalars(select(SubjectRestriction).where(SubjectRestriction.subject_ref == subject)
                           .order_by(SubjectRestriction.since))
    return [_plain(row) for row in rows]


def _plain(row: SubjectRestriction) -> Restriction:
    return Restriction(row.subject_ref, row.kind, row.purpose, row.request_id, row.since, row.lifted_at)
