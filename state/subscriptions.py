"""The service's Graph subscriptions and their secret clientStates, encrypted at rest.

Each subscription gets its own random clientState (at most 128 characters, graph-facts.md
§2.2). It is stored AES-256-GCM under the master key, bound to its row, so a database reader
cannot forge notifications; the webhook endpoint reads it back through `ClientStateCache`.

A subscription is first saved as *pending* (`save_pending`), with its clientState, before Graph
is asked to create it: Graph may notify between its 201 and our save, and a crash there would
otherwise leave a live subscription we know nothing about. Until `promote_pending` gives the row
Graph's id, a notification for an id we do not know is checked against the one pending secret.
"""
from __future__ import annotations

import json
import secrets
import threading
import time
from datetime import datetime

from sqlalchemy import Engine, LargeBinary, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from database.times import format_time
from database.base import TIME, Base
from ledger.encryption import MasterKeys, decrypt_value, encrypt_value

CLIENT_STATE_BYTES = 48  # 64 URL-safe characters: well inside Graph's 128-character limit
PENDING_PREFIX = "pending:"


class GraphSubscription(Base):
    """One Graph subscription on a booking business's mailbox events."""

    __tablename__ = "graph_subscriptions"
    subscription_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    business_id: Mapped[str] = mapped_column(String(320), index=True)
    resource: Mapped[str] = mapped_column(String(1024))
    client_state: Mapped[bytes] = mapped_column(LargeBinary)
    master_key_id: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[str] = mapped_column(TIME)
    state: Mapped[str] = mapped_column(String(16))   # pending | active | removed
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


def save_pending(session: Session, keys: MasterKeys, *, business_id: str, resource: str, client_state: str,
                 now: datetime) -> str:
    """Record a subscription about to be created; returns its provisional id."""
    pending_id = PENDING_PREFIX + secrets.token_hex(16)
    row = save_subscription(session, keys, subscription_id=pending_id, business_id=business_id, resource=resource,
                            client_state=client_state, expires_at=now, now=now)
    row.state = "pending"
    session.flush()
    return pending_id


def promote_pending(session: Session, keys: MasterKeys, pending_id: str, *, subscription_id: str,
                    expires_at: datetime, now: datetime) -> GraphSubscription:
    """Graph created the pending subscription: store it under Graph's id, as active."""
    pending = session.get(GraphSubscription, pending_id)
    client_state = decrypt_value(keys.get(pending.master_key_id), pending.client_state, _context(pending_id), row_id=pending_id)
    session.delete(pending)
    return save_subscription(session, keys, subscription_id=subscription_id, business_id=pending.business_id,
                             resource=pending.resource, client_state=client_state, expires_at=expires_at, now=now)


def decrypt_client_state(keys: MasterKeys, row: GraphSubscription) -> str:
    """The clientState of a stored subscription row."""
    return decrypt_value(keys.get(row.master_key_id), row.client_state, _context(row.subscription_id),
                         row_id=row.subscription_id)


def read_client_state(engine: Engine, keys: MasterKeys, subscription_id: str) -> str | None:
    """The clientState of an active subscription, or None when the service has no such subscription."""
    return _lookup(engine, keys, subscription_id)[0]


def _lookup(engine: Engine, keys: MasterKeys, subscription_id: str) -> tuple[str | None, bool]:
    # (clientState, found by its own id). One query for both the active row and a pending one.
    with engine.connect() as connection:
        rows = connection.execute(
            select(GraphSubscription.subscription_id, GraphSubscription.client_state, GraphSubscription.master_key_id,
                   GraphSubscription.state)
            .where(((GraphSubscription.subscription_id == subscription_id) & (GraphSubscription.state == "active"))
                   | (GraphSubscription.state == "pending"))
        ).all()
    own = [row for row in rows if row.state == "active"]
    pending = [row for row in rows if row.state == "pending"]
    # Only a single pending row can stand in: with several we could not tell whose id this is.
    chosen = own[0] if own else pending[0] if len(pending) == 1 else None
    if chosen is None:
        return None, False
    value = decrypt_value(keys.get(chosen.master_key_id), chosen.client_state, _context(chosen.subscription_id),
                          row_id=chosen.subscription_id)
    return value, bool(own)


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
        # Only subscriptions found by their own id are cached: one just created must be found
        # at once, and forged ids (or a pending row's stand-in answer) must not fill the cache.
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(subscription_id)
        if hit and hit[0] > now:
            return hit[1]
        value, own = _lookup(self._engine, self._keys, subscription_id)
        if own:
            with self._lock:
                self._cache[subscription_id] = (now + self.TTL_SECONDS, value)
        return value


def subscriptions_problem(engine: Engine, business_ids: list[str], now: datetime) -> str | None:
    """Readiness: None when every business has an unexpired active subscription, else what is wrong."""
    with engine.connect() as connection:
        live = set(connection.execute(
            select(GraphSubscription.business_id)
            .where(GraphSubscription.state == "active", GraphSubscription.expires_at > format_time(now))
        ).scalars())
    missing = [business_id for business_id in business_ids if business_id not in live]
    return f"{len(missing)} of {len(business_ids)} booking businesses have no live subscription" if missing else None


def expiry_by_business(engine: Engine) -> dict[str, str]:
    """Business id -> the latest expiry among its active subscriptions (ledger time text)."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(GraphSubscription.business_id, func.max(GraphSubscription.expires_at))
            .where(GraphSubscription.state == "active").group_by(GraphSubscription.business_id)
        ).all()
    return {business_id: expires for business_id, expires in rows}


# A subscription being replaced: no longer accepted, its successor created or about to be, and
# its deletion at Graph not yet confirmed. Rows stay here until that is done (a crash resumes it).
RETIRING = "retiring"


def subscription_row(engine: Engine, subscription_id: str) -> GraphSubscription | None:
    """The stored subscription with that id (any state), or None."""
    with Session(engine) as session:
        return session.get(GraphSubscription, subscription_id)


def subscriptions_in_state(engine: Engine, state: str) -> list[GraphSubscription]:
    """The stored subscriptions in `state` (pending, active, retiring, removed)."""
    with Session(engine) as session:
        return list(session.scalars(select(GraphSubscription).where(GraphSubscription.state == state)))


def businesses_of(engine: Engine, subscription_ids: list[str]) -> dict[str, str]:
    """Subscription id -> business id, for the ids the service has stored (in any state)."""
    if not subscription_ids:
        return {}
    with engine.connect() as connection:
        return dict(connection.execute(  # type: ignore[arg-type]
            select(GraphSubscription.subscription_id, GraphSubscription.business_id)
            .where(GraphSubscription.subscription_id.in_(subscription_ids))
        ).all())


def update_subscription(session: Session, subscription_id: str, now: datetime, **values: str) -> None:
    """Change a stored subscription's columns (state, expires_at); `updated_at` becomes `now`."""
    row = session.get(GraphSubscription, subscription_id)
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_at = format_time(now)  # type: ignore[union-attr]


def retire_subscription(session: Session, subscription_id: str) -> None:
    """Stop accepting an active subscription ahead of its replacement.

    `updated_at` is left alone: it is when the service last knew the subscription alive, where
    the gap that its replacement records starts, even when a crash has the replacement resumed.
    """
    row = session.get(GraphSubscription, subscription_id)
    row.state = RETIRING  # type: ignore[union-attr]


def forget_subscription(session: Session, subscription_id: str) -> None:
    """Delete a stored subscription row (a pending create that never happened)."""
    row = session.get(GraphSubscription, subscription_id)
    if row is not None:
        session.delete(row)
