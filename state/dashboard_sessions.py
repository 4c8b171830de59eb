"""The dashboard's sessions, kept server-side: one row per browser session, keyed by a token's hash.

    dashboard_sessions   token_hash (SHA-256 of the cookie's token, hex), data (the session dict:
                         the signed-in user and Flask-WTF's CSRF token), created_at, expires_at
                         (absolute: created_at + the lifetime), idle_expires_at (moved on at each
                         use, never past expires_at)

The cookie carries a random token and nothing else; only its hash is stored, so a copy of the
database (a backup, a read replica, an SQL injection elsewhere) yields no usable session. A row
past either deadline is dead: `load_session` deletes it when it is presented, and
`purge_expired_sessions` (run with the working state's purge) deletes the rest.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, String, Text, delete, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column

from database.base import TIME, Base
from database.times import format_time, parse_time
from state.token_hashes import token_hash

TOKEN_BYTES = 32   # 256 bits from the OS's generator: not guessable, not enumerable


class DashboardSession(Base):
    """One signed-in (or about to sign in) browser."""

    __tablename__ = "dashboard_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[str] = mapped_column(Text)
    created_at: Mapped[str] = mapped_column(TIME)
    expires_at: Mapped[str] = mapped_column(TIME, index=True)
    idle_expires_at: Mapped[str] = mapped_column(TIME, index=True)


@dataclass(frozen=True)
class StoredSession:
    """A live session's data and when it goes idle."""

    data: str
    idle_expires_at: datetime


def new_token() -> str:
    """A fresh session token for a cookie."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def create_session(engine: Engine, token: str, data: str, now: datetime, *, lifetime: timedelta,
                   idle: timedelta) -> datetime:
    """Store a new session for `token`; when it goes idle."""
    idle_until = min(now + idle, now + lifetime)
    with engine.begin() as connection:
        connection.execute(DashboardSession.__table__.insert().values(
            token_hash=token_hash(token), data=data, created_at=format_time(now),
            expires_at=format_time(now + lifetime), idle_expires_at=format_time(idle_until)))
    return idle_until


def load_session(engine: Engine, token: str, now: datetime) -> StoredSession | None:
    """The live session of `token`; None when there is none, and an expired one is deleted."""
    key = token_hash(token)
    with engine.begin() as connection:
        row = connection.execute(select(DashboardSession.data, DashboardSession.expires_at,
                                        DashboardSession.idle_expires_at)
                                 .where(DashboardSession.token_hash == key)).one_or_none()
        if row is None:
            return None
        stamp = format_time(now)
        if row.expires_at <= stamp or row.idle_expires_at <= stamp:
            connection.execute(delete(DashboardSession).where(DashboardSession.token_hash == key))
            return None
    return StoredSession(row.data, parse_time(row.idle_expires_at))


def save_session(engine: Engine, token: str, data: str, now: datetime, *, idle: timedelta) -> datetime:
    """Store `data` for `token` and move its idle deadline on (never past the absolute one); the new deadline."""
    key = token_hash(token)
    with engine.begin() as connection:
        expires_at = connection.execute(select(DashboardSession.expires_at)
                                        .where(DashboardSession.token_hash == key)).scalar_one_or_none()
        if expires_at is None:
            return now     # deleted meanwhile (signed out in another tab, or purged): stays gone
        idle_until = min(now + idle, parse_time(expires_at))
        connection.execute(update(DashboardSession).where(DashboardSession.token_hash == key)
                           .values(data=data, idle_expires_at=format_time(idle_until)))
    return idle_until


def delete_session(engine: Engine, token: str) -> None:
    """Forget the session of `token` (sign-out, or a new token at sign-in)."""
    with engine.begin() as connection:
        connection.execute(delete(DashboardSession).where(DashboardSession.token_hash == token_hash(token)))


def purge_expired_sessions(engine: Engine, now: datetime) -> int:
    """Delete every session past its absolute or idle deadline; how many went."""
    stamp = format_time(now)
    with engine.begin() as connection:
        return connection.execute(delete(DashboardSession).where(or_(
            DashboardSession.expires_at <= stamp, DashboardSession.idle_expires_at <= stamp))).rowcount
