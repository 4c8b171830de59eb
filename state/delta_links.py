"""The delta link of each business's scheduling-mailbox calendar: one row per business.

    calendar_delta_links  the `@odata.deltaLink` that starts the business's next calendarView/delta
                          round (used verbatim: the window and sync state are in its token), the
                          window it was opened on, when the round that returned it started (every
                          change after that comes in the next round) and how many changes it had

A row is replaced after every successful round and deleted when Graph answers 410 (the link
expired); the next round then opens a new one (jobs/delta.py). Ids and times only.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from database.base import TIME, Base
from database.times import format_time, parse_time


class CalendarDeltaLink(Base):
    """Where one business's mailbox calendar delta continues (migration 0012_calendar_delta_links)."""

    __tablename__ = "calendar_delta_links"
    business_id: Mapped[str] = mapped_column(String(320), primary_key=True)
    delta_link: Mapped[str] = mapped_column(Text)
    window_start: Mapped[str] = mapped_column(TIME)
    window_end: Mapped[str] = mapped_column(TIME)
    round_started: Mapped[str] = mapped_column(TIME)
    changes: Mapped[int] = mapped_column(Integer)


@dataclass(frozen=True)
class DeltaPosition:
    """A stored link and the window it covers."""

    delta_link: str
    window_start: datetime
    window_end: datetime
    round_started: datetime


def delta_position(engine: Engine, business_id: str) -> DeltaPosition | None:
    """The business's stored delta link, or None before its first round (or after a 410)."""
    with Session(engine) as session:
        row = session.get(CalendarDeltaLink, business_id)
        if row is None:
            return None
        return DeltaPosition(row.delta_link, parse_time(row.window_start), parse_time(row.window_end),
                             parse_time(row.round_started))


def store_delta_link(session: Session, business_id: str, delta_link: str, *, window: tuple[datetime, datetime],
                     round_started: datetime, changes: int) -> None:
    """Keep the link a round returned (in the caller's transaction, beside what the round wrote)."""
    row = session.get(CalendarDeltaLink, business_id, with_for_update=True)
    if row is None:
        row = CalendarDeltaLink(business_id=business_id)
        session.add(row)
    row.delta_link, row.changes = delta_link, changes
    row.window_start, row.window_end = format_time(window[0]), format_time(window[1])
    row.round_started = format_time(round_started)
    session.flush()


def forget_delta_link(engine: Engine, business_id: str) -> None:
    """Drop an expired link: the business's next round opens a new one."""
    with Session(engine) as session, session.begin():
        row = session.get(CalendarDeltaLink, business_id)
        if row is not None:
            session.delete(row)


def last_rounds(engine: Engine) -> dict[str, datetime]:
    """When each business's last successful delta round started."""
    with Session(engine) as session:
        return {b: parse_time(t) for b, t in session.execute(
            select(CalendarDeltaLink.business_id, CalendarDeltaLink.round_started))}
