"""The time zone of each booking business, on whose calendar its retention days are counted.

    business_time_zones   business id -> IANA zone, the name Graph gave (often a Windows name), read at

Read from the scheduling mailbox's `mailboxSettings.timeZone` once per business (by reconciliation,
or by the retention job the first time it needs one), never per record; ingestion and the
retention job read it from here. Migration 0014_retention creates it.
"""
from __future__ import annotations

from datetime import datetime, timezone, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from database.base import TIME, Base
from database.times import format_time


class BusinessTimeZone(Base):
    """One business's time zone."""

    __tablename__ = "business_time_zones"
    business_id: Mapped[str] = mapped_column(String(320), primary_key=True)
    time_zone: Mapped[str] = mapped_column(String(64))          # IANA
    graph_name: Mapped[str] = mapped_column(String(128))        # as mailboxSettings gave it
    read_at: Mapped[str] = mapped_column(TIME)


def zone_name(session: Session, business_id: str) -> str | None:
    """The business's IANA zone, None until it has been read."""
    return session.scalar(select(BusinessTimeZone.time_zone).where(BusinessTimeZone.business_id == business_id))


def zone(session: Session, business_id: str) -> tzinfo:
    """The business's zone; UTC until it has been read (the retention job reads it before any of its
    dates can come due, and re-dates them: state.retention_dues.redate_business)."""
    name = zone_name(session, business_id)
    return to_tzinfo(name) if name else timezone.utc


def to_tzinfo(name: str) -> tzinfo:
    """An IANA name as a tzinfo."""
    return timezone.utc if name == "UTC" else ZoneInfo(name)


def store_zone(session: Session, business_id: str, iana: str, graph_name: str, now: datetime) -> bool:
    """Remember the business's zone; whether it is new or changed (its due dates then need re-dating)."""
    row = session.get(BusinessTimeZone, business_id)
    if row is None:
        session.add(BusinessTimeZone(business_id=business_id, time_zone=iana, graph_name=graph_name,
                                     read_at=format_time(now)))
        return True
    changed = row.time_zone != iana
    row.time_zone, row.graph_name, row.read_at = iana, graph_name, format_time(now)
    return changed
