"""Reconciliation state: each business's completeness watermark and the gaps in its notifications.

    sync_watermarks  one row per booking business: "the ledger matched Graph as of `complete_until`"
                     (the start of the last full sweep or mailbox delta round that finished),
                     and the last full sweep's figures
    sync_gaps        every window in which notifications could have been lost (a lapsed or removed
                     subscription, a `missed` event, downtime), open until a sweep that started
                     after the window closed has finished: that sweep is the back-fill

Why a gap is closed by a sweep and not by a narrower read: a lost notification may concern any
appointment, whatever its date, and Bookings has no delta query (graph-facts.md §2.9), so the
only proof that nothing of the window is missing is a full comparison made after it. The
mailbox calendar's delta (jobs/delta.py) sees every event change inside its window, so a round
that wrote all it found advances the watermark, but only while no gap is open: a gap stays the
backfill sweep's to close, and the watermark never claims more than that sweep has proved.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from database.times import format_time, parse_time
from database.base import TIME, Base

GAP_REASONS = frozenset({"lapsed", "removed", "missed", "downtime"})

class SyncWatermark(Base):
    """How far the ledger is known to match Graph for one booking business."""

    __tablename__ = "sync_watermarks"
    business_id: Mapped[str] = mapped_column(String(320), primary_key=True)
    complete_until: Mapped[str] = mapped_column(TIME)
    swept_at: Mapped[str] = mapped_column(TIME)
    appointments: Mapped[int] = mapped_column(Integer)
    changes: Mapped[int] = mapped_column(Integer)


class SyncGap(Base):
    """A window in which notifications for a business could have been lost, and its back-fill."""

    __tablename__ = "sync_gaps"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    business_id: Mapped[str] = mapped_column(String(320), index=True)
    reason: Mapped[str] = mapped_column(String(16))
    subscription_id: Mapped[str | None] = mapped_column(String(512))
    start: Mapped[str] = mapped_column(TIME)
    end: Mapped[str] = mapped_column(TIME)
    recorded_at: Mapped[str] = mapped_column(TIME)
    filled_at: Mapped[str | None] = mapped_column(TIME, index=True)


@dataclass(frozen=True)
class GapView:
    """A gap as the dashboard and `/readyz` show it."""

    id: int
    reason: str
    start: str
    end: str
    filled_at: str | None


@dataclass(frozen=True)
class BusinessSync:
    """One business's watermark and its gaps not yet back-filled."""

    business_id: str
    complete_until: str | None
    swept_at: str | None
    open_gaps: list[GapView]


def record_gap(
    session: Session, business_id: str, *, reason: str, start: datetime, end: datetime, now: datetime,
    subscription_id: str | None = None,
) -> SyncGap:
    """Record a window of possibly lost notifications; it stays open until a later sweep finishes."""
    if reason not in GAP_REASONS:
        raise ValueError(f"unknown gap reason {reason!r}")
    gap = SyncGap(
        business_id=business_id, reason=reason, subscription_id=subscription_id, start=format_time(min(start, end)),
        end=format_time(end), recorded_at=format_time(now), filled_at=None,
    )
    session.add(gap)
    session.flush()
    return gap


def open_gap(session: Session, business_id: str, *, reason: str, subscription_id: str, end: datetime) -> SyncGap | None:
    """The business's gap not yet back-filled with this reason, subscription and end, if any."""
    return session.scalars(select(SyncGap).where(
        SyncGap.business_id == business_id, SyncGap.reason == reason, SyncGap.subscription_id == subscription_id,
        SyncGap.end == format_time(end), SyncGap.filled_at.is_(None),
    )).first()


def complete_sweep(
    session: Session, business_id: str, *, started: datetime, now: datetime, appointments: int, changes: int,
) -> list[SyncGap]:
    """A full sweep that began at `started` finished: advance the watermark, close the gaps it covers."""
    stamp = format_time(started)
    mark = session.get(SyncWatermark, business_id, with_for_update=True)
    if mark is None:
        mark = SyncWatermark(business_id=business_id, complete_until=stamp)
        session.add(mark)
    # Sweeps may finish out of order (a `missed` sweep beside a scheduled one): never move back.
    mark.complete_until = max(mark.complete_until, stamp)
    mark.swept_at, mark.appointments, mark.changes = format_time(now), appointments, changes
    filled = list(session.scalars(
        select(SyncGap).where(SyncGap.business_id == business_id, SyncGap.filled_at.is_(None), SyncGap.end <= stamp)
    ))
    for gap in filled:
        gap.filled_at = format_time(now)
    session.flush()
    return filled


def advance_by_delta(session: Session, business_id: str, *, started: datetime) -> bool:
    """A delta round that began at `started` wrote every change it found: move the watermark
    there, unless no full sweep has run yet or a gap is open; whether it moved."""
    mark = session.get(SyncWatermark, business_id, with_for_update=True)
    if mark is None or session.scalars(select(SyncGap.id).where(
            SyncGap.business_id == business_id, SyncGap.filled_at.is_(None)).limit(1)).first() is not None:
        return False
    mark.complete_until = max(mark.complete_until, format_time(started))
    session.flush()
    return True


def watermark_lags(engine: Engine, now: datetime) -> dict[str, float]:
    """Seconds each business's watermark is behind `now` (businesses with a watermark only)."""
    with Session(engine) as session:
        marks = session.execute(select(SyncWatermark.business_id, SyncWatermark.complete_until)).all()
    return {business_id: max(0.0, (now - parse_time(until)).total_seconds()) for business_id, until in marks}


def watermark(session: Session, business_id: str) -> str | None:
    """The business's completeness watermark, or None before its first full sweep."""
    mark = session.get(SyncWatermark, business_id)
    return mark.complete_until if mark else None


def sync_status(engine: Engine, business_ids: list[str]) -> list[BusinessSync]:
    """Watermark and open gaps of each business, for the dashboard and readiness."""
    with Session(engine) as session:
        marks = {m.business_id: m for m in session.scalars(select(SyncWatermark))}
        gaps = list(session.scalars(select(SyncGap).where(SyncGap.filled_at.is_(None)).order_by(SyncGap.id)))
    result = []
    for business_id in business_ids:
        mark = marks.get(business_id)
        mine = [GapView(g.id, g.reason, g.start, g.end, g.filled_at) for g in gaps if g.business_id == business_id]
        result.append(BusinessSync(business_id, mark and mark.complete_until, mark and mark.swept_at, mine))
    return result
