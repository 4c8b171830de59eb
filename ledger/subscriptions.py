"""The service's Graph subscriptions and their secret clientStates, encrypted at rest.

Each subscription gets its own random clientState (at most 128 characters, graph-facts.md
§2.2). It is stored AES-256-GCM under the master key, bound to its row, so a database reader
cannot forge notifications; the webhook endpoint reads it back through `ClientStateCache`.
"""
from __future__ import annotations

import json
import secrets
import threading
import time
from datetime import datetime

from sqlalchemy import Engine, LargeBinary, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ledger.entries import format_time
from ledger.models import TIME, Base
from ledger.vault import MasterKeys, decrypt_value, encrypt_value

CLIENT_STATE_BYTES = 48  # 64 URL-safe characters: well inside Graph's 128-character limit


class GraphSubscription(Base):
    """One Graph subscription on a booking business's mailbox events."""

    __tablename__ = "graph_subscriptions"
    subscription_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    business_id: Mapped[str] = mapped_column(String(320), index=True)
    resource: Mapped[str] = mapped_column(String(1024))
    client_state: Mapped[bytes] = mapped_column(LargeBinary)
    master_key_id: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[str] = mapped_column(TIME)
    state: Mapped[str] = mapped_column(String(16))   # active | removed
    updated_at: Mapped[str] = mapped_column(TIME)


def new_client_state() -> str:
    """A fresh random clientState for one subscription."""
    return secrets.token_urlsafe(CLIENT_STATE_BYTES)


def _context(subscription_id: str) -> bytes:
    return json.dumps(["client_state", subscription_id]).encode()


def save_subscription(
    session: Session, keys: MasterKeys, *, subscription_id: str, business_id: str, resource: str,
    client_state: str, expires_at: datetime, now: datetime,
) -> GraphSubscription:
    """Record a subscription Graph created, its clientState encrypted under the current master key."""
    row = GraphSubscription(
        subscription_id=subscription_id, business_id=business_id, resource=resource,
        client_state=encrypt_value(keys.current, client_state, _context(subscription_id)),
        master_key_id=keys.current_id, expires_at=format_time(expires_at), state="active",
        updated_at=format_time(now),
    )
    return session.merge(row)


def read_client_state(engine: Engine, keys: MasterKeys, subscription_id: str) -> str | None:
    """The clientState of an active subscription, or None when the service has no such subscription."""
    with engine.connect() as connection:
        row = connection.execute(
            select(GraphSubscription.client_state, GraphSubscription.master_key_id)
            .where(GraphSubscription.subscription_id == subscription_id, GraphSubscription.state == "active")
        ).first()
    if row is None:
        return None
    return decrypt_value(keys.get(row.master_key_id), row.client_state, _context(subscription_id), row_id=subscription_id)


class ClientStateCache:
    """`read_client_state` behind a short cache: a burst of notifications costs one query."""

    TTL_SECONDS = 30.0  # a removed subscription stops being accepted within this time

    def __init__(self, engine: Engine, keys: MasterKeys) -> None:
        self._engine = engine
        self._keys = keys
        self._cache: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def client_state(self, subscription_id: str) -> str | None:
        """The clientState of that subscription, or None if it is not one of ours."""
        # Only known subscriptions are cached: one just created must be found at once, and
        # forged ids must not fill the cache.
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(subscription_id)
        if hit and hit[0] > now:
            return hit[1]
        value = read_client_state(self._engine, self._keys, subscription_id)
        if value is not None:
            with self._lock:
                self._cache[subscription_id] = (now + self.TTL_SECONDS, value)
        return value
