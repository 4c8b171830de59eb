"""The dashboard's counts of the ledger: a day's window counts exactly its entries, found by a
search over seq that tolerates the small disorder of entry times, on both backends."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy.orm import Session

from database.engine import read_only
from ledger.entries import append_entry
from ledger.evidence import evidence
from ledger.statistics import entries_by_day, records_by_state

START = datetime(2026, 11, 1, tzinfo=timezone.utc)


def test_entries_by_day_counts_exactly_the_window_whatever_its_place_in_the_chain(db):
    with Session(db) as session, session.begin():
        for hour in range(24 * 10):                     # ten days, an entry an hour, a checkpoint every sixth
            if hour == 24 * 7:
                # Two writers' clocks read in one order, the lock taken in the other: an entry of
                # 8 November appended before one of 7 November (half an hour apart: within the margin).
                append_entry(session, "collected", START + timedelta(days=7, seconds=30), {})
                append_entry(session, "collected", START + timedelta(days=7, minutes=-30), {})
            kind = "checkpoint" if hour % 6 == 0 else "collected"
            details = {"size": 0, "root": "", "checkpoint_id": 0} if kind == "checkpoint" else {"refs": {"appointment": f"a-{hour}"}}
            append_entry(session, kind, START + timedelta(hours=hour), details)
    with read_only(db) as connection:
        counts = entries_by_day(connection, ["collected"], since="2026-11-08T00:00:00.000000Z")
        everything = entries_by_day(connection, ["collected", "checkpoint"], since="2026-10-01T00:00:00.000000Z")
    assert counts == [("2026-11-08", "collected", 21), ("2026-11-09", "collected", 20), ("2026-11-10", "collected", 20)]
    assert sum(count for _day, _kind, count in everything) == 24 * 10 + 2


def test_empty_ledger_counts_nothing(db):
    with read_only(db) as connection:
        assert entries_by_day(connection, ["collected"], since="2026-11-08T00:00:00.000000Z") == []
        assert records_by_state(connection) == []
        proof = evidence(connection)
    assert (proof.entries, proof.last_verify, proof.last_checkpoint) == (0, None, None)
