"""Per booking business: its Graph subscription, completeness watermark and last notification.

    business_statuses(engine, ["bookings@contoso.com", ...])   # -> [BusinessStatus]

A few small reads, the dashboard's "is every business being heard?": the newest active
subscription's expiry, the watermark and open gaps (state/watermarks.py), and when the inbox last
received a notification for any of the business's subscriptions.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select

from state.inbox import InboxRow
from state.subscriptions import GraphSubscription
from state.watermarks import sync_status


@dataclass(frozen=True)
class BusinessStatus:
    """What the service knows of one business's feed (stored time texts; None: never)."""

    business_id: str
    subscription_state: str | None      # the best state among its subscriptions: active, pending, ...
    subscription_expires_at: str | None  # the latest expiry among its active subscriptions
    complete_until: str | None
    open_gaps: int
    last_notification_at: str | None


_STATE_ORDER = ("active", "pending", "rotated", "retiring", "removed")


def business_statuses(engine: Engine, business_ids: Iterable[str]) -> list[BusinessStatus]:
    """The status of each business named, and of any other that has a stored subscription."""
    with engine.connect() as connection:
        subscriptions = connection.execute(select(
            GraphSubscription.business_id, GraphSubscription.subscription_id, GraphSubscription.state,
            GraphSubscription.expires_at)).all()
        known = sorted(set(business_ids) | {row.business_id for row in subscriptions})
        last_heard = {business_id: _last_notification(connection, [row.subscription_id for row in subscriptions
                                                                   if row.business_id == business_id])
                      for business_id in known}
    syncs = {sync.business_id: sync for sync in sync_status(engine, known)}
    statuses = []
    for business_id in known:
        mine = [row for row in subscriptions if row.business_id == business_id]
        states = sorted({row.state for row in mine}, key=lambda s: _STATE_ORDER.index(s) if s in _STATE_ORDER else 99)
        expiries = [row.expires_at for row in mine if row.state == "active"]
        sync = syncs[business_id]
        statuses.append(BusinessStatus(business_id, states[0] if states else None, max(expiries, default=None),
                                       sync.complete_until, len(sync.open_gaps), last_heard[business_id]))
    return statuses


def _last_notification(connection: Connection, subscription_ids: list[str]) -> str | None:
    # The newest row first, by primary key: a business that is being heard is found within its
    # latest rows; done rows are purged after a few days (state/working_state_retention.py).
    if not subscription_ids:
        return None
    return connection.execute(
        select(InboxRow.received_at).where(InboxRow.subscription_id.in_(subscription_ids))
        .order_by(InboxRow.id.desc()).limit(1)).scalar()
