"""Appending: gap-free sequence under a lock, canonical bodies, and a table that refuses change."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from ledger.core.canonical import GENESIS_HASH, canonical_bytes, entry_hash, parse_entry
from ledger.entries import EntryError, rebuild_entry_index
from tampering import rows


def test_appends_get_consecutive_seqs_chained_by_hash(ledger, db):
    with ledger.transaction() as tx:
        for _ in range(5):
            tx.append("exported", entries=0)
    stored = rows(db)
    assert [seq for seq, _, _ in stored] == [1, 2, 3, 4, 5]
    previous = GENESIS_HASH
    for seq, body, digest in stored:
        assert parse_entry(body)["seq"] == seq
        assert digest == entry_hash(previous, body)
        previous = digest


def test_a_rolled_back_append_leaves_no_gap(ledger, db):
    """A failed transaction takes its seq with it: the next entry reuses the number."""
    with ledger.transaction() as tx:
        tx.append("exported")
    with pytest.raises(RuntimeError), ledger.transaction() as tx:
        tx.append("exported")
        raise RuntimeError("the caller failed after appending")
    with ledger.transaction() as tx:
        assert tx.append("exported").seq == 2
    assert [seq for seq, _, _ in rows(db)] == [1, 2]


def test_entry_has_format_fields_and_utc_microsecond_time(ledger, clock):
    with ledger.transaction() as tx:
        entry = tx.append("hold-placed", subject="s1", refs={"appointment": "AAMk1"}, reason="litigation").entry
    assert entry == {
        "v": 2, "seq": 1, "time": "2024-02-26T09:00:00.000000Z", "kind": "hold-placed",
        "subject": "s1", "refs": {"appointment": "AAMk1"}, "reason": "litigation",
    }


@pytest.mark.parametrize("kind, details", [("made-up", {}), ("exported", {"seq": 7}), ("exported", {"time": "x"})])
def test_unknown_kinds_and_reserved_keys_are_refused(ledger, kind, details):
    with pytest.raises(EntryError), ledger.transaction() as tx:
        tx.append(kind, **details)


@pytest.mark.parametrize("statement", ["UPDATE ledger_entries SET body = body", "DELETE FROM ledger_entries"])
def test_database_refuses_update_and_delete_of_entries(ledger, db, statement):
    with ledger.transaction() as tx:
        tx.append("exported")
    with pytest.raises(DatabaseError, match="append-only"), db.begin() as connection:
        connection.execute(text(statement))
    assert len(rows(db)) == 1


@pytest.mark.parametrize("database_factory", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_postgresql_refuses_truncate_of_entries(ledger, db):
    with ledger.transaction() as tx:
        tx.append("exported")
    with pytest.raises(DatabaseError, match="append-only"), db.begin() as connection:
        connection.execute(text("TRUNCATE ledger_entries"))


def test_entry_index_is_rebuilt_from_the_bodies(ledger, db):
    with ledger.transaction() as tx:
        tx.append("hold-placed", subject="s1")
        tx.append("exported")
    with db.begin() as connection:
        before = connection.execute(text("SELECT seq, kind, subject_ref, time FROM entry_index ORDER BY seq")).all()
        connection.execute(text("UPDATE entry_index SET kind = 'wrong'"))
    with ledger.transaction() as tx:
        assert rebuild_entry_index(tx.session) == 2
    with db.connect() as connection:
        assert connection.execute(text("SELECT seq, kind, subject_ref, time FROM entry_index ORDER BY seq")).all() == before


def test_canonical_bytes_are_what_is_hashed(ledger, db):
    with ledger.transaction() as tx:
        appended = tx.append("exported", entries=3)
    (_seq, body, digest), = rows(db)
    assert body == canonical_bytes(appended.entry)
    assert digest == appended.hash
