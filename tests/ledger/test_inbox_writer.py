"""The receiver's inbox writer: one autocommit statement per batch, on both databases."""
import sqlite3
from datetime import datetime, timezone

import psycopg
import pytest
from sqlalchemy import func, insert, select

from state.inbox import InboxItem, InboxRow, InboxWriter

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)


def item(n: int, version: str = "1") -> InboxItem:
    return InboxItem("change", "sub-1", "updated", f"Users/clinic/Events/{n}", str(n), version)


def stored(db) -> int:
    with db.connect() as connection:
        return connection.execute(select(func.count()).select_from(InboxRow)).scalar_one()


@pytest.fixture
def writer(db):
    writer = InboxWriter(db)
    yield writer
    writer.close()


def test_each_item_is_stored_once_and_flagged_new_only_the_first_time(db, writer):
    assert writer.accept([item(1), item(2), item(1)], NOW) == [True, True, False]
    assert writer.accept([item(2), item(3), item(2, version="2")], NOW) == [False, True, True]
    assert stored(db) == 4


def test_a_batch_larger_than_one_statement_is_stored_whole(db, writer):
    batch = [item(n) for n in range(1203)]
    assert writer.accept(batch + batch[:5], NOW) == [True] * 1203 + [False] * 5
    assert stored(db) == 1203


def test_rows_wait_for_the_workers(db, writer):
    writer.accept([item(1)], NOW)
    with db.connect() as connection:
        row = connection.execute(select(InboxRow.state, InboxRow.attempts, InboxRow.received_at,
                                        InboxRow.not_before)).one()
    assert row == ("pending", 0, "2026-11-25T09:00:00.000000Z", "2026-11-25T09:00:00.000000Z")


def test_a_failed_batch_raises_and_the_writer_keeps_working(db, writer):
    broken = InboxItem(None, "sub-1", "updated", "Users/clinic/Events/9", "9", "1")  # type: ignore[arg-type]
    with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError)):  # the drivers' own: no SQLAlchemy here
        writer.accept([broken], NOW)
    assert writer.accept([item(1)], NOW) == [True]
    assert stored(db) == 1


def test_the_writers_autocommit_never_reaches_the_engines_pool(db, writer):
    db.pool.dispose()  # an empty pool: the next checkout gets whatever the writer gave back, if anything
    writer.accept([item(1)], NOW)
    writer.close()
    with db.connect() as connection:
        connection.execute(insert(InboxRow).values(
            digest=b"x" * 32, kind="change", subscription_id="sub-1", event="updated", resource="r",
            received_at="2026-11-25T09:00:00.000000Z", state="pending", attempts=0,
            not_before="2026-11-25T09:00:00.000000Z",
        ))
        connection.rollback()
    assert stored(db) == 1


def test_a_batch_of_several_statements_that_fails_stores_none_of_it(db, writer):
    broken = InboxItem(None, "sub-1", "updated", "Users/clinic/Events/x", "x", "1")  # type: ignore[arg-type]
    batch = [item(n) for n in range(700)] + [broken] + [item(n) for n in range(700, 1203)]
    with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError)):
        writer.accept(batch, NOW)   # the first 500 rows' statement succeeded before the failing one
    assert stored(db) == 0
    assert writer.accept([item(1)], NOW) == [True]
