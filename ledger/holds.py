"""Legal holds: what the law requires to be kept overrides retention, erasure and the child path.

    legal_holds   one row per hold: its scope (`subject`, `appointment` or `business`) and target
                  (a subject ref, an appointment's or a business's Graph id), the reason and who
                  placed it, when, an optional end, and the release (when, by whom, why)

    with ledger.transaction() as tx:
        hold = place_hold(tx, "business", business_id, reason="Case 2026-14", placed_by="officer", ends_at=None)
        release_hold(tx, hold.id, reason="Case closed", released_by="officer")
    holds_covering(session, now, subject=ref, appointment_ids=[...], business_ids=[...])  # -> [Hold]

Placing and releasing each append an entry to the chain (`hold-placed`, `hold-released`) with the
hold's id, scope, target (as the entry's subject or refs) and end only: the reason and the names
are free text that may name people, so they live in this mutable table and never in the chain.

A hold with `ends_at` lapses at that moment without an entry: every reader (`active_holds`,
`holds_covering`) treats it as released once `now >= ends_at`, so nothing has to run at the
moment it lapses for it to stop protecting. Its lapse is provable from its `hold-placed` entry.

Why the ledger guard reads this table and not the subject projection: a subject may be covered by
several holds at once (its own, one on an appointment, one on its whole business), and a hold may
lapse by its end with no entry; a per-subject flag set by the last entry can be right for neither.
So the projection keeps no hold flag (migration 0013 drops `subjects.on_hold`) and every check asks
`holds_covering` at the moment it decides.
"""
from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, String, Text, and_, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from database.base import NAME, REF, TIME, Base
from database.times import format_time, parse_time
from ledger.entries import lock_head

if TYPE_CHECKING:
    from ledger.transactions import LedgerTransaction

SCOPES = ("subject", "appointment", "business")


class Held(Exception):
    """An erasure was refused: legal holds cover the subject. Carries the hold ids, never a person."""

    def __init__(self, hold_ids: Iterable[str]) -> None:
        self.hold_ids: tuple[str, ...] = tuple(hold_ids)
        super().__init__(f"on legal hold: {', '.join(self.hold_ids)}")


class UnknownHold(LookupError):
    """No hold with that id, or it is released already."""


class LegalHold(Base):
    """One legal hold (migration 0013_legal_holds)."""

    __tablename__ = "legal_holds"
    id: Mapped[str] = mapped_column(REF, primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(512), index=True)
    reason: Mapped[str] = mapped_column(Text)
    placed_by: Mapped[str] = mapped_column(NAME)
    placed_at: Mapped[str] = mapped_column(TIME)
    ends_at: Mapped[str | None] = mapped_column(TIME, nullable=True)
    released_at: Mapped[str | None] = mapped_column(TIME, nullable=True, index=True)
    released_by: Mapped[str | None] = mapped_column(NAME, nullable=True)
    release_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


@dataclass(frozen=True)
class Hold:
    """A legal hold as plain values (usable after its session closed)."""

    id: str
    scope: str
    target: str
    reason: str
    placed_by: str
    placed_at: datetime
    ends_at: datetime | None
    released_at: datetime | None
    released_by: str | None = None
    release_reason: str | None = None

    def active(self, now: datetime) -> bool:
        """Not released, and not past its end."""
        return self.released_at is None and (self.ends_at is None or now < self.ends_at)


def place_hold(tx: LedgerTransaction, scope: str, target: str, *, reason: str, placed_by: str,
               ends_at: datetime | None) -> Hold:
    """Place a hold and append `hold-placed` (id, scope, target, end: never the reason or the names)."""
    if scope not in SCOPES:
        raise ValueError(f"a hold's scope is one of {', '.join(SCOPES)}")
    now = tx.clock()
    if ends_at is not None and ends_at <= now:
        raise ValueError("a hold must end in the future")
    # The chain's lock first, as an erasure's guard takes it (Ledger._refuse_if_held): the two serialise.
    lock_head(tx.session)
    row = LegalHold(id=secrets.token_hex(16), scope=scope, target=target, reason=reason, placed_by=placed_by,
                    placed_at=format_time(now), ends_at=format_time(ends_at) if ends_at else None)
    tx.session.add(row)
    tx.session.flush()
    tx.append("hold-placed", subject=target if scope == "subject" else None, refs={scope: target}, hold=row.id,
              scope=scope, ends_at=row.ends_at)
    return _plain(row)


def parse_end(text: str, now: datetime) -> datetime:
    """The moment a hold given an end of `text` lapses: an ISO date means through that day (UTC), so
    the day after at 00:00Z; an ISO time must carry its UTC offset. ValueError says what is wrong."""
    try:
        if len(text) == 10:
            ends_at = datetime.combine(datetime.fromisoformat(text).date() + timedelta(days=1), time(), timezone.utc)
        else:
            ends_at = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO date (2027-06-30) or time with offset") from None
    if ends_at.tzinfo is None:
        raise ValueError("a time needs its UTC offset (2027-06-30T17:00:00+01:00)")
    if ends_at <= now:
        raise ValueError("the hold would have ended already")
    return ends_at


def release_hold(tx: LedgerTransaction, hold_id: str, *, reason: str, released_by: str) -> Hold:
    """Release an active hold and append `hold-released`; UnknownHold when there is none to release."""
    row = tx.session.get(LegalHold, hold_id, with_for_update=True)
    if row is None or row.released_at is not None:
        raise UnknownHold(f"no active hold {hold_id}")
    row.released_at, row.released_by, row.release_reason = format_time(tx.clock()), released_by, reason
    tx.session.flush()
    tx.append("hold-released", subject=row.target if row.scope == "subject" else None, refs={row.scope: row.target},
              hold=row.id, scope=row.scope)
    return _plain(row)


def get_hold(session: Session, hold_id: str) -> Hold | None:
    """The hold with that id, released or not."""
    row = session.get(LegalHold, hold_id)
    return None if row is None else _plain(row)


def all_holds(session: Session) -> list[Hold]:
    """Every hold ever placed, oldest first."""
    return [_plain(row) for row in session.scalars(select(LegalHold).order_by(LegalHold.placed_at, LegalHold.id))]


def active_holds(session: Session, now: datetime) -> list[Hold]:
    """The holds that protect now: not released, not past `ends_at`; oldest first."""
    return _query(session, now, None)


def holds_covering(session: Session, now: datetime, *, subject: str | None = None, appointment_ids: Iterable[str] = (),
                   business_ids: Iterable[str] = ()) -> list[Hold]:
    """The active holds on the subject, on any of the appointments or on any of the businesses."""
    targets = [("subject", [subject] if subject else []), ("appointment", sorted(set(appointment_ids))),
               ("business", sorted(set(business_ids)))]
    covered = [and_(LegalHold.scope == scope, LegalHold.target.in_(ids)) for scope, ids in targets if ids]
    return _query(session, now, or_(*covered)) if covered else []


def _query(session: Session, now: datetime, covered: ColumnElement[bool] | None) -> list[Hold]:
    # Times are text in one sortable format (database.times), so `>` compares them on both backends.
    active = and_(LegalHold.released_at.is_(None),
                  or_(LegalHold.ends_at.is_(None), LegalHold.ends_at > format_time(now)))
    query = select(LegalHold).where(active if covered is None else and_(active, covered))
    return [_plain(row) for row in session.scalars(query.order_by(LegalHold.placed_at, LegalHold.id))]


def _plain(row: LegalHold) -> Hold:
    return Hold(row.id, row.scope, row.target, row.reason, row.placed_by, parse_time(row.placed_at),
                parse_time(row.ends_at) if row.ends_at else None,
                parse_time(row.released_at) if row.released_at else None, row.released_by, row.release_reason)
