"""API tokens for /api/v1: hashed, scoped, expiring, revocable, their last use recorded.

    api_tokens   token_id (public, random), name (what the operator called it), secret_hash
                 (SHA-256 of the secret, hex), scopes (space-separated SCOPES), created_at,
                 expires_at, revoked_at, last_used_at

A token reads `bl_<token_id>_<secret>`. The id finds the row; the secret is compared with the
stored hash by `hmac.compare_digest`, so how long a comparison takes says nothing about how much
of a guess was right. Only the hash is stored: a copy of the database (a backup, a replica) holds
no usable token, and the plaintext is shown once, by `token create`. An unknown id is compared
against a dummy hash, so an unknown token, a wrong secret, an expired and a revoked one all take
the same work and get the same answer (None).
"""
from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, String, select, update
from sqlalchemy.orm import Mapped, mapped_column

from database.base import TIME, Base
from database.times import format_time, parse_time
from state.token_hashes import token_hash

READ, WRITE, RUN = "requests:read", "requests:write", "requests:run"
SCOPES = (READ, WRITE, RUN)
PREFIX = "bl"
SECRET_BYTES = 32                         # 256 bits from the OS's generator
_DUMMY_HASH = token_hash("no such token")


class ApiToken(Base):
    """One API token, by its public id; the secret only as a hash."""

    __tablename__ = "api_tokens"
    token_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[str] = mapped_column(TIME)
    expires_at: Mapped[str] = mapped_column(TIME)
    revoked_at: Mapped[str | None] = mapped_column(TIME)
    last_used_at: Mapped[str | None] = mapped_column(TIME)


@dataclass(frozen=True)
class TokenInfo:
    """What is known of a token, its secret aside."""

    token_id: str
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    def state(self, now: datetime) -> str:
        """`active`, `expired` or `revoked`."""
        if self.revoked_at is not None:
            return "revoked"
        return "active" if now < self.expires_at else "expired"


@dataclass(frozen=True)
class IssuedToken:
    """A new token: the plaintext (shown once, never stored) and its record."""

    token: str
    info: TokenInfo


class TokenError(ValueError):
    """A token cannot be made as asked (an unknown scope, no scope, a blank name)."""


def create_token(engine: Engine, name: str, scopes: Iterable[str], now: datetime, *, days: int) -> IssuedToken:
    """Store a new token with `scopes`, valid for `days` from `now`; the plaintext is in the result only."""
    chosen = tuple(sorted(set(scopes)))
    unknown = set(chosen) - set(SCOPES)
    if unknown or not chosen:
        raise TokenError(f"scopes must be some of {', '.join(SCOPES)}; got {', '.join(sorted(unknown)) or 'none'}")
    if not name.strip() or len(name) > 100:
        raise TokenError("a token needs a name of 1 to 100 characters (what it is for)")
    token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(SECRET_BYTES)
    info = TokenInfo(token_id, name.strip(), chosen, now, now + timedelta(days=days), None, None)
    with engine.begin() as connection:
        connection.execute(ApiToken.__table__.insert().values(
            token_id=token_id, name=info.name, secret_hash=token_hash(secret), scopes=" ".join(chosen),
            created_at=format_time(now), expires_at=format_time(info.expires_at)))
    return IssuedToken(f"{PREFIX}_{token_id}_{secret}", info)


def authenticate(engine: Engine, presented: str, now: datetime) -> TokenInfo | None:
    """The active token `presented` is, its use recorded; None for anything else (unknown, wrong,
    expired, revoked, malformed): the caller cannot tell which."""
    prefix, _, rest = presented.partition("_")
    token_id, _, secret = rest.partition("_")
    with engine.begin() as connection:
        row = connection.execute(select(ApiToken).where(ApiToken.token_id == token_id)).one_or_none()
        matches = hmac.compare_digest(token_hash(secret), row.secret_hash if row is not None else _DUMMY_HASH)
        if row is None or not matches or prefix != PREFIX:
            return None
        info = _info(row)
        if info.state(now) != "active":
            return None
        connection.execute(update(ApiToken).where(ApiToken.token_id == token_id)
                           .values(last_used_at=format_time(now)))
    return info


def revoke_token(engine: Engine, token_id: str, now: datetime) -> TokenInfo | None:
    """Revoke the token for good (kept, for the record); None when there is no such token."""
    with engine.begin() as connection:
        connection.execute(update(ApiToken).where(ApiToken.token_id == token_id, ApiToken.revoked_at.is_(None))
                           .values(revoked_at=format_time(now)))
        row = connection.execute(select(ApiToken).where(ApiToken.token_id == token_id)).one_or_none()
    return _info(row) if row is not None else None


def list_tokens(engine: Engine) -> list[TokenInfo]:
    """Every token, revoked and expired ones included, oldest first."""
    with engine.connect() as connection:
        rows = connection.execute(select(ApiToken).order_by(ApiToken.created_at, ApiToken.token_id)).all()
    return [_info(row) for row in rows]




def _info(row: Any) -> TokenInfo:
    # A row of the table (Core), read by column name.
    return TokenInfo(row.token_id, row.name, tuple(row.scopes.split()), parse_time(row.created_at),
                     parse_time(row.expires_at), _time(row.revoked_at), _time(row.last_used_at))


def _time(value: str | None) -> datetime | None:
    return parse_time(value) if value is not None else None
