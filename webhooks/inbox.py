"""The receiver's side of the inbox: notification items become `state.inbox` rows.

Writes are group-committed by writer threads of the process: request threads queue their items
and wait; a free writer takes everything queued and stores it in one transaction
(`state.inbox.InboxWriter`), so a burst costs a few commits instead of one per request (and on
SQLite, far fewer waits for the write lock). SQLite has one writer, as it takes one write at a
time; PostgreSQL has WRITERS_POSTGRESQL, each on a connection of its own, so the next group is
committed while the last one's WAL flush is still under way instead of after it. A 202 means
"durably stored": a request answers only after the commit that holds its items, and when that
commit fails every request in it gets the error, none a 202, so Graph re-sends them all (its
digest makes the re-send harmless).

The queue and the wait are bounded. A full queue, a wait past `MAX_WAIT_SECONDS` or a closed
inbox raise `InboxBusy`, which the receiver answers 503 with Retry-After: Graph retries, and a
request that timed out but whose items commit later is only a duplicate on the re-send, never a
lost notification. `close()` (gunicorn's worker exit, `close_app`) refuses new items, lets the
writers commit what is queued, then stops them.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from state import inbox
from webhooks.notifications import LifecycleNotification, Notification

# Items waiting for the writer, at most: about a second of a saturated process's intake, and a few
# hundred kB of memory. Beyond it requests are refused at once instead of queueing behind a stall.
MAX_QUEUED_ITEMS = 5_000
# How long a request waits for its commit: well inside Graph's 2.9 s limit, so a stalled database
# costs Graph a fast 503 it retries rather than a slow answer it counts against the endpoint.
MAX_WAIT_SECONDS = 2.0
# A commit on PostgreSQL mostly waits for its WAL flush (0.3 ms on a quiet disk, 4 ms and more on a
# busy shared one), during which one writer would leave the queue waiting. Two writers keep a
# commit in flight while the next group forms, and the server flushes concurrent commits together;
# each costs a database connection per web process (docs/ingestion.md).
WRITERS_POSTGRESQL = 2


class InboxBusy(Exception):
    """The items were not (yet) stored: queue full, commit too slow, or the inbox closing."""


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


class _Ticket:
    """One request's items and their outcome. `done` is held until the writer has set it: a bare
    lock, where an Event costs a Condition and its locks more on every notification's path."""

    __slots__ = ("items", "done", "stored", "error")

    def __init__(self, items: list[inbox.InboxItem]) -> None:
        self.items = items
        self.done = threading.Lock()
        self.done.acquire()
        self.stored = 0
        self.error: BaseException | None = None


@dataclass
class LedgerInbox:
    """Writes genuine notifications to the ledger database's inbox table, through its writer thread.

    `on_commit(items)` is told the size of every successful commit (the receiver's metrics)."""

    engine: Engine
    clock: Callable[[], datetime]
    on_commit: Callable[[int], None] = lambda items: None
    max_queued_items: int = MAX_QUEUED_ITEMS
    max_wait_seconds: float = MAX_WAIT_SECONDS
    _queue: list[_Ticket] = field(default_factory=list)
    _queued_items: int = 0
    _closing: bool = False
    _wake: threading.Condition = field(default_factory=threading.Condition)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __post_init__(self) -> None:
        writers = 1 if self.engine.dialect.name == "sqlite" else WRITERS_POSTGRESQL
        self._writers = [inbox.InboxWriter(self.engine) for _ in range(writers)]

    def accept(self, endpoint: str, items: Sequence[Notification]) -> int:
        """Store each item once, committed before this returns; returns how many were new.

        Raises InboxBusy when the items cannot be queued or their commit does not come in time,
        and the commit's own error when it failed."""
        received = self.clock()
        ticket = _Ticket([to_item(item, received) for item in items])
        with self._wake:
            if self._closing or self._queued_items + len(ticket.items) > self.max_queued_items:
                raise InboxBusy("closing" if self._closing else "queue full")
            if not self._threads:
                # Started on first use, so in the process that serves (after gunicorn's fork).
                self._threads = [
                    threading.Thread(target=self._run, args=(writer,), name=f"inbox-writer-{n}", daemon=True)
                    for n, writer in enumerate(self._writers)
                ]
                for thread in self._threads:
                    thread.start()
            self._queue.append(ticket)
            self._queued_items += len(ticket.items)
            if len(self._queue) == 1:   # writers sleep only while the queue is empty: wake a free one
                self._wake.notify()
        if not ticket.done.acquire(timeout=self.max_wait_seconds):
            raise InboxBusy("commit too slow")
        if ticket.error is not None:
            raise ticket.error
        return ticket.stored

    def close(self) -> None:
        """Refuse new items, let the writers commit what is queued, then give their connections back."""
        with self._wake:
            self._closing = True
            self._wake.notify_all()
            threads = self._threads
        for thread in threads:
            thread.join()
        for writer in self._writers:
            writer.close()

    def _run(self, writer: inbox.InboxWriter) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._closing:
                    self._wake.wait()
                if not self._queue:   # closing, and nothing left to commit
                    return
                tickets, self._queue, self._queued_items = self._queue, [], 0
            self._commit(writer, tickets)

    def _commit(self, writer: inbox.InboxWriter, tickets: list[_Ticket]) -> None:
        items = [item for ticket in tickets for item in ticket.items]
        try:
            flags = iter(writer.accept(items, self.clock()))
            for ticket in tickets:
                ticket.stored = sum(next(flags) for _ in ticket.items)
            self.on_commit(len(items))
        except Exception as exc:  # nothing of the batch is stored: every request answers 5xx, Graph retries
            for ticket in tickets:
                ticket.error = exc
        for ticket in tickets:
            ticket.done.release()
