"""The service's Graph subscriptions, their clientStates kept only as keyed hashes.

Each subscription gets its own random clientState (at most 128 characters, graph-facts.md
§2.2); the row keeps HMAC-SHA256 of it under CLIENT_STATE_KEY (`state.client_states`), so a
database reader cannot forge notifications and the web process verifies them without the
master key. The receiver looks rows up through `state.subscription_lookup`.

A subscription is first saved as *pending* (`save_pending`), with its clientState's hash, before
Graph is asked to create it: Graph may notify between its 201 and our save, and a crash there
would otherwise leave a live subscription we know nothing about. Until `promote_pending` gives
the row Graph's id, a notification for an id we do not know is checked against the one pending
secret. A subscription replaced by `subscribe --rotate-client-state` is *rotated*: still
accepted until its `accept_until`, since Graph keeps retrying deliveries made before the delete.
One being replaced because it is gone (or said to be) is *retiring*: accepted no more.
"""
from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Engine, LargeBinary, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from database.base import TIME, Base
from database.times import format_time
from state.client_states import ClientStateKeys

PENDING_PREFIX = "pending:"
ROTATED = "rotated"    # replaced for a new clientState, accepted until accept_until
# Gone (or said to be) and being replaced: accepted no more, its successor created or about to
# be, its deletion at Graph not yet confirmed; it stays here until that is done (a crash resumes it).
RETIRING = "retiring"


class GraphSubscription(Base):
    """One Graph subscription on a booking business's mailbox events."""

    __tablename__ = "graph_subscriptions"
    subscription_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    business_id: Mapped[str] = mapped_column(String(320), index=True)
    resource: Mapped[str] = mapped_column(String(1024))
    client_state_hash: Mapped[bytes] = mapped_column(LargeBinary)
    client_state_key_id: Mapped[str] = mapped_column(String(16))
    # The directory id Graph names the mailbox by in each notification's `resource`.
    mailbox_user_id: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[str] = mapped_column(TIME)
    state: Mapped[str] = mapped_column(String(16))   # pending | active | rotated | retiring | removed
    accept_until: Mapped[str | None] = mapped_column(TIME)   # rotated rows only
    updated_at: Mapped[str] = mapped_column(TIME)


def save_subscription(
    session: Session, keys: ClientStateKeys, *, subscription_id: str, business_id: str, resource: str,
    client_state: str, expires_at: datetime, now: datetime, mailbox_user_id: str | None = None,
) -> GraphSubscription:
    """Record a subscription Graph created, with its clientState's hash under the current key."""
    row = GraphSubscription(
        subscription_id=subscription_id, business_id=business_id, resource=resource,
        client_state_hash=keys.digest(client_state), client_state_key_id=keys.current_id,
        mailbox_user_id=mailbox_user_id, expires_at=format_time(expires_at), state="active", accept_until=None,
        updated_at=format_time(now),
    )
    return session.merge(row)


def save_pending(session: Session, keys: ClientStateKeys, *, business_id: str, resource: str, client_state: str,
                 now: datetime, mailbox_user_id: str | None = None) -> str:
    """Record a subscription about to be created; returns its provisional id."""
    pending_id = PENDING_PREFIX + secrets.token_hex(16)
    row = save_subscription(session, keys, subscription_id=pending_id, business_id=business_id, resource=resource,
                            client_state=client_state, expires_at=now, now=now, mailbox_user_id=mailbox_user_id)
    row.state = "pending"
    session.flush()
    return pending_id


def promote_pending(session: Session, pending_id: str, *, subscription_id: str, expires_at: datetime,
                    now: datetime) -> GraphSubscription:
    """Graph created the pending subscription: store it under Graph's id, as active."""
    pending = session.get(GraphSubscription, pending_id)
    session.delete(pending)
    session.flush()
    row = GraphSubscription(
        subscription_id=subscription_id, business_id=pending.business_id, resource=pending.resource,
        client_state_hash=pending.client_state_hash, client_state_key_id=pending.client_state_key_id,
        mailbox_user_id=pending.mailbox_user_id, expires_at=format_time(expires_at), state="active",
        accept_until=None, updated_at=format_time(now),
    )
    return session.merge(row)


def client_state_matches(keys: ClientStateKeys, row: GraphSubscription, client_state: str | None) -> bool:
    """Whether `client_state` is the secret of this stored subscription (constant time)."""
    return client_state is not None and keys.matches(row.client_state_hash, row.client_state_key_id, client_state)


def rotate_out_subscription(session: Session, subscription_id: str, *, accept_until: datetime, now: datetime) -> None:
    """A subscription replaced for a new clientState: its notifications are still accepted until `accept_until`."""
    row = session.get(GraphSubscription, subscription_id)
    row.state, row.accept_until, row.updated_at = ROTATED, format_time(accept_until), format_time(now)


def set_mailbox_user_id(session: Session, subscription_id: str, mailbox_user_id: str) -> None:
    """Record the mailbox's directory id on a row that lacks it (rows from before revision 0011)."""
    session.get(GraphSubscription, subscription_id).mailbox_user_id = mailbox_user_id


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
