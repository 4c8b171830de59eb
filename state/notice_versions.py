"""The privacy notice's registered versions and their text, for the public privacy page.

    notice_versions   one row per version `bookings-ledger notice register` recorded: the text as
                      registered, its SHA-256 (the ledger's `notice-changed` entry carries the
                      same digest, which is what proves this is the text that version was), when
                      it was registered and whether the change was material.

The notice is public text, not personal data. Migration 0020_outgoing_mail creates the table.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Boolean, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from database.base import TIME, Base
from database.times import format_time


class NoticeVersion(Base):
    """One registered version of the privacy notice."""

    __tablename__ = "notice_versions"
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    registered_at: Mapped[str] = mapped_column(TIME, index=True)
    material: Mapped[bool] = mapped_column(Boolean)


@dataclass(frozen=True)
class Notice:
    """One version as plain values."""

    version: str
    sha256: str
    text: str
    registered_at: str
    material: bool


def register_version(session: Session, *, version: str, sha256: str, text: str, material: bool,
                     now: datetime) -> Notice:
    """Store a new version; ValueError when the version exists with another text."""
    row = session.get(NoticeVersion, version, with_for_update=True)
    if row is not None:
        if row.sha256 != sha256:
            raise ValueError(f"notice version {version} is registered already, with another text")
        return _plain(row)
    row = NoticeVersion(version=version, sha256=sha256, text=text, registered_at=format_time(now), material=material)
    session.add(row)
    session.flush()
    return _plain(row)


def get_version(session: Session, version: str) -> Notice | None:
    """One version, if registered."""
    row = session.get(NoticeVersion, version)
    return None if row is None else _plain(row)


def list_versions(session: Session) -> list[Notice]:
    """Every registered version, newest first (the first is the one in force)."""
    query = select(NoticeVersion).order_by(NoticeVersion.registered_at.desc(), NoticeVersion.version.desc())
    return [_plain(row) for row in session.scalars(query)]


def _plain(row: NoticeVersion) -> Notice:
    return Notice(row.version, row.sha256, row.text, row.registered_at, bool(row.material))
