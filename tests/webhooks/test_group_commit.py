"""The receiver's inbox writer: a 202 only after the commit that holds the items, commits shared
by concurrent requests, bounded queue and wait, a clean close.

The writer is made to wait the honest way: another connection holds SQLite's write lock, so
the requests that arrive meanwhile queue up behind one blocked commit.
"""
import sqlite3
import threading
import time
from contextlib import contextmanager

from sqlalchemy import select

from state.inbox import InboxRow
from webhook_items import inbox_rows, metric, notification, post
from webhooks import receiver

SETTLE = 0.3   # long enough for queued requests to reach the writer's queue


@contextmanager
def write_lock_held(app):
    """Hold the ledger's SQLite write lock, as a busy worker would, until the block ends."""
    blocker = sqlite3.connect(app.extensions["bookings_ledger.engine"].url.database, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        blocker.execute("COMMIT")
        blocker.close()


def poison(app):
    """Make the database refuse any row of the event 'poison': a commit that fails on its own."""
    connection = sqlite3.connect(app.extensions["bookings_ledger.engine"].url.database, isolation_level=None)
    connection.execute("CREATE TRIGGER poison BEFORE INSERT ON inbox WHEN NEW.resource_id = 'poison' "
                       "BEGIN SELECT RAISE(ABORT, 'poisoned'); END")
    connection.close()


def posting(app, *items):
    """POST the items from a thread of its own; `.join()` then `.status`."""
    thread = threading.Thread(target=lambda: setattr(thread, "status", post(app.test_client(), *items).status_code))
    thread.start()
    return thread


def answers(threads):
    for thread in threads:
        thread.join(10)
    return [thread.status for thread in threads]


def commits(app):
    client = app.test_client()
    return metric(client, "bl_inbox_commit_items_count"), metric(client, "bl_inbox_commit_items_sum")


def test_a_failed_commit_answers_every_request_in_it_5xx_and_stores_none_of_them(app, subscription):
    poison(app)
    with write_lock_held(app):
        first = posting(app, notification(subscription, event_id="first"))   # the writer blocks on it
        time.sleep(SETTLE)
        group = [posting(app, notification(subscription, event_id=event)) for event in ("a", "poison", "b", "c")]
        time.sleep(SETTLE)
    assert answers([first]) == [202]
    assert answers(group) == [500] * 4   # one commit held them all; it failed, so none is told 202
    assert [row.resource_id for row in inbox_rows(app)] == ["first"]
    assert commits(app) == (1.0, 1.0)


def test_concurrent_requests_share_commits(app, subscription):
    with write_lock_held(app):
        threads = [posting(app, notification(subscription, event_id=f"event-{n}")) for n in range(20)]
        time.sleep(SETTLE)
    assert answers(threads) == [202] * 20
    assert len(inbox_rows(app)) == 20
    count, items = commits(app)
    assert items == 20 and count <= 3   # the one commit the lock blocked, and the rest queued behind it


def test_a_full_queue_is_answered_503_at_once_and_graphs_retry_is_stored(app, client, subscription):
    inbox = app.extensions[receiver.EXTENSION].inbox
    inbox.max_queued_items = 1
    with write_lock_held(app):
        first = posting(app, notification(subscription, event_id="first"))   # taken by the blocked writer
        time.sleep(SETTLE)
        second = posting(app, notification(subscription, event_id="second"))   # fills the queue
        time.sleep(SETTLE)
        refused = post(client, notification(subscription, event_id="third"))
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
    assert answers([first, second]) == [202, 202]
    assert post(client, notification(subscription, event_id="third")).status_code == 202
    assert sorted(row.resource_id for row in inbox_rows(app)) == ["first", "second", "third"]
    assert metric(client, 'bl_notifications_rejected_total{reason="inbox_busy"}') == 1


def test_a_commit_slower_than_the_wait_is_answered_503_and_its_retry_is_a_duplicate(app, client, subscription):
    app.extensions[receiver.EXTENSION].inbox.max_wait_seconds = 0.2
    item = notification(subscription, event_id="slow")
    with write_lock_held(app):
        assert post(client, item).status_code == 503
    assert post(client, item).status_code == 202   # Graph's retry: the late commit already holds it
    assert [row.resource_id for row in inbox_rows(app)] == ["slow"]


def test_close_commits_what_is_queued_then_refuses(app, client, subscription):
    inbox = app.extensions[receiver.EXTENSION].inbox
    with write_lock_held(app):
        queued = posting(app, notification(subscription, event_id="queued"))
        time.sleep(SETTLE)
        closing = threading.Thread(target=inbox.close)
        closing.start()
        time.sleep(SETTLE)
        assert closing.is_alive()   # waits for the writer's commit
    closing.join(10)
    assert answers([queued]) == [202]
    assert [row.resource_id for row in inbox_rows(app)] == ["queued"]
    assert post(client, notification(subscription, event_id="late")).status_code == 503


def test_rows_keep_the_order_items_were_answered_in(app, client, subscription):
    post(client, *(notification(subscription, event_id=f"e{n}") for n in range(3)))
    post(client, notification(subscription, event_id="e3"), notification(subscription, event_id="e0"))
    engine = app.extensions["bookings_ledger.engine"]
    with engine.connect() as connection:
        ids = connection.execute(select(InboxRow.resource_id).order_by(InboxRow.id)).scalars().all()
    assert ids == ["e0", "e1", "e2", "e3"]

