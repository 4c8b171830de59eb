"""The receiver's inbox writers: one on SQLite, WRITERS_POSTGRESQL on PostgreSQL, so that there a
commit still waiting on the server does not hold up the requests queued behind it."""
import threading
import time
from contextlib import contextmanager

import pytest
from sqlalchemy import func, insert, select

from database.times import format_time
from state.inbox import InboxRow
from webhook_items import NOW
from webhooks.inbox import WRITERS_POSTGRESQL, InboxBusy, LedgerInbox, to_item
from webhooks.notifications import ChangeNotification

SETTLE = 0.3   # long enough for the first writer to reach the held row


def change(event_id: str) -> ChangeNotification:
    return ChangeNotification.model_validate({
        "subscriptionId": "4f3e2d1c-0b9a-4887-9665-5443322110ff", "clientState": "secret", "changeType": "created",
        "resource": f"Users/clinic@contoso.com/Events/{event_id}",
        "resourceData": {"id": event_id, "@odata.etag": 'W/"1"'},
    })


@contextmanager
def row_held(db, item: ChangeNotification):
    """Another transaction inserts the item's row and keeps it uncommitted until the block ends (then rolls back)."""
    stamp = format_time(NOW)
    stored = to_item(item, NOW)
    with db.connect() as connection:
        connection.execute(insert(InboxRow).values(
            digest=stored.digest(), kind=stored.kind, subscription_id=stored.subscription_id, event=stored.event,
            resource=stored.resource, resource_id=stored.resource_id, received_at=stamp, state="pending",
            attempts=0, not_before=stamp))
        try:
            yield
        finally:
            connection.rollback()


def accepting(inbox: LedgerInbox, item: ChangeNotification) -> threading.Thread:
    """`inbox.accept` of the item from a thread of its own; `.join()` then `.stored`."""
    thread = threading.Thread(target=lambda: setattr(thread, "stored", inbox.accept("change", [item])))
    thread.start()
    return thread


def stored_rows(db) -> int:
    with db.connect() as connection:
        return connection.execute(select(func.count()).select_from(InboxRow)).scalar_one()


def test_on_postgresql_a_commit_held_up_by_the_server_does_not_hold_up_the_next(db):
    if db.dialect.name == "sqlite":
        pytest.skip("SQLite takes one write at a time: its inbox has one writer (tests/webhooks/test_group_commit.py)")
    assert WRITERS_POSTGRESQL >= 2
    inbox = LedgerInbox(db, lambda: NOW, max_wait_seconds=10)
    try:
        with row_held(db, change("held")):
            held = accepting(inbox, change("held"))   # its INSERT waits for the other transaction
            time.sleep(SETTLE)
            started = time.monotonic()
            assert inbox.accept("change", [change("free")]) == 1   # committed by the second writer meanwhile
            assert time.monotonic() - started < SETTLE
            assert held.is_alive()
        held.join(10)
        assert held.stored == 1   # the other transaction rolled back: the row is the inbox's
        assert stored_rows(db) == 2
    finally:
        inbox.close()


def test_close_lets_every_writer_finish_then_refuses(db):
    """Every request queued before close() is committed, by whichever writer; none after."""
    inbox = LedgerInbox(db, lambda: NOW)
    threads = [accepting(inbox, change(f"event-{n}")) for n in range(8)]
    for thread in threads:
        thread.join(10)
    writers = [thread for thread in threading.enumerate() if thread.name.startswith("inbox-writer")]
    inbox.close()
    assert [thread.stored for thread in threads] == [1] * 8
    assert stored_rows(db) == 8
    assert not any(thread.is_alive() for thread in writers)
    with pytest.raises(InboxBusy):
        inbox.accept("change", [change("late")])
