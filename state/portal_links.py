"""Single-use links to a request's status page or its export, mailed to the verified requester.

    token = create_link(session, request_id, "export", now, hours)   # the plaintext, for the mail alone
    request_id = redeem_link(session, token, "export", now)           # None: unknown, used, expired or other purpose

    portal_links   token_hash (SHA-256 of the token, hex), request_id, purpose (status | export),
                   created_at, expires_at, used_at

A link is a bearer credential: whoever holds it sees the request (or downloads its export), so it
is 256 random bits, stored only as its hash (a copy of the database opens nothing), lives
REQUEST_LINK_HOURS, and opens once. Redeeming is one conditional UPDATE, so two racing clicks
cannot both open it, on SQLite as on PostgreSQL. Why a redeem failed is not returned: the page
tells the visitor the same whatever it was.
"""
from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Engine, String, delete, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from database.base import REF, TIME, Base
from database.times import format_time
from state.token_hashes import token_hash

PURPOSES = ("status", "export")
TOKEN_BYTES = 32


class PortalLink(Base):
    """One single-use link of the public privacy page."""

    __tablename__ = "portal_links"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_id: Mapped[str] = mapped_column(REF, index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[str] = mapped_column(TIME)
    expires_at: Mapped[str] = mapped_column(TIME, index=True)
    used_at: Mapped[str | None] = mapped_column(TIME)


def create_link(session: Session, request_id: str, purpose: str, now: datetime, hours: int) -> str:
    """A new link token for the request's `purpose` page, valid `hours`; only its hash is stored."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown link purpose {purpose!r}; expected one of {', '.join(PURPOSES)}")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(PortalLink(token_hash=token_hash(token), request_id=request_id, purpose=purpose,
                           created_at=format_time(now), expires_at=format_time(now + timedelta(hours=hours))))
    session.flush()
    return token


def redeem_link(session: Session, token: str, purpose: str, now: datetime) -> str | None:
    """Open the link once: its request id, or None when it is unknown, used, expired or for another purpose."""
    digest, stamp = token_hash(token), format_time(now)
    link = session.scalars(select(PortalLink).where(PortalLink.token_hash == digest)).one_or_none()
    if link is None or not hmac.compare_digest(digest, link.token_hash) or link.purpose != purpose:
        return None
    opened = session.execute(update(PortalLink).where(
        PortalLink.token_hash == digest, PortalLink.used_at.is_(None), PortalLink.expires_at > stamp)
        .values(used_at=stamp).execution_options(synchronize_session=False))
    return link.request_id if opened.rowcount == 1 else None


def purge_finished_links(engine: Engine, now: datetime) -> int:
    """Delete every link that can never open again (used or expired); how many went."""
    with engine.begin() as connection:
        return connection.execute(delete(PortalLink).where(or_(
            PortalLink.used_at.is_not(None), PortalLink.expires_at <= format_time(now)))).rowcount


