"""The receiver's side of the inbox: notification items become `state.inbox` rows.

Writes are group-committed: while one request thread commits, the others queue their items,
and the next committer stores everything queued in one statement (`state.inbox.InboxWriter`).
Each request still answers only after its own items are committed, but a burst costs a few
commits instead of one per request (and on SQLite, far fewer waits for the write lock).
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from state import inbox
from webhooks.notifications import LifecycleNotification, Notification


def to_item(item: Notification, received: datetime) -> inbox.InboxItem:
    """The ids and event of one notification; nothing else of the body is kept."""
    if isinstance(item, LifecycleNotification):
        if item.lifecycleEvent == "missed":
            # Each `missed` is a new loss, even for the same subscription and expiry: keep every
            # one (the worker skips those a later sweep already covers).
            version = received.isoformat()
        else:
            # A repeat before the expiry changes asks for the same reauthorization or recreation.
            expiry = item.subscriptionExpirationDateTime
            version = expiry.isoformat() if expiry else None
        return inbox.InboxItem(
            kind="lifecycle", subscription_id=item.subscriptionId, event=item.lifecycleEvent, resource="",
            resource_id=None, version=version,
        )
    data = item.resourceData
    return inbox.InboxItem(
        kind="change", subscription_id=item.subscriptionId, event=item.changeType, resource=item.resource,
        resource_id=data.id if data else None, version=(data.odata_etag if data else None) or item.id,
    )


@dataclass
class _Ticket:
    items: list[inbox.InboxItem]
    stored: int = 0
    error: BaseException | None = None
    done: bool = False


@dataclass
class LedgerInbox:
    """Writes genuine notifications to the ledger database's inbox table."""

    engine: Engine
    clock: Callable[[], datetime]
    _queue: list[_Ticket] = field(default_factory=list)
    _queue_lock: threading.Lock = field(default_factory=threading.Lock)
    _commit_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._writer = inbox.InboxWriter(self.engine)

    def accept(self, endpoint: str, items: Sequence[Notification]) -> int:
        """Store each item once, committed before this returns; returns how many were new."""
        received = self.clock()
        ticket = _Ticket([to_item(item, received) for item in items])
        with self._queue_lock:
            self._queue.append(ticket)
        with self._commit_lock:
            if not ticket.done:  # nobody committed it while we waited: commit all that is queued
                self._commit_queued()
        if ticket.error is not None:
            raise ticket.error
        return ticket.stored

    def close(self) -> None:
        """Give the writer's database connection back."""
        self._writer.close()

    def _commit_queued(self) -> None:
        with self._queue_lock:
            tickets, self._queue = self._queue, []
        try:
            flags = iter(self._writer.accept([i for t in tickets for i in t.items], self.clock()))
            for ticket in tickets:
                ticket.stored = sum(next(flags) for _ in ticket.items)
        except Exception as exc:  # every request of the failed batch answers 5xx, so Graph retries
            for ticket in tickets:
                ticket.error = exc
        for ticket in tickets:
            ticket.done = True
