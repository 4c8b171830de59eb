"""Erasure: nothing of the subject can be read or found afterwards, and the chain still verifies."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from ledger.encryption import VaultError
from ledger.integrity import verify_ledger
from test_personal_data import PERSON, _collect, dump_tables


def _erase(ledger, subject):
    with ledger.transaction() as tx:
        return tx.erase_subject(subject, reason="erasure-request", refs={"request": "r-1"}, tombstones=[("appointment", "AAMk-1")])


def test_erased_subject_cannot_be_read_found_or_revived(ledger, db, clock):
    subject = _collect(ledger)
    survivor = _collect(ledger, {"email": "bob@example.org"}, appointment="AAMk-2")
    receipt = _erase(ledger, subject)
    with ledger.transaction() as tx:
        assert tx.find_subjects(email=PERSON["email"]) == []
        assert tx.find_subjects(phone=PERSON["phone"]) == []
        assert tx.find_subjects(email="bob@example.org") == [survivor]
        assert tx.is_tombstoned("appointment", "AAMk-1")
        assert not tx.is_tombstoned("appointment", "AAMk-2")
        assert tx.record("appointment", "AAMk-2").state == "active"
        assert tx.subject(subject).status == "erased"
        assert tx.record("appointment", "AAMk-1").state == "erased"
    with pytest.raises(VaultError), ledger.transaction() as tx:
        tx.read_personal_data(subject, viewer="officer-7", purpose="access-request")
    assert receipt.key_destroyed_seq == receipt.erased_seq + 1
    assert verify_ledger(db, verifier_key=None, origin=None, clock=clock).ok


def test_erasure_deletes_every_row_of_the_subject(ledger, db):
    subject = _collect(ledger)
    _erase(ledger, subject)
    with db.connect() as connection:
        for table in ("personal_data", "blind_indexes", "data_keys"):
            count = connection.execute(text(f"SELECT count(*) FROM {table} WHERE subject_ref = :s"), {"s": subject}).scalar()
            assert count == 0, table
    dump = dump_tables(db).lower()
    assert b"ann" not in dump.replace(b"anonymised", b"") and b"contoso" not in dump


def test_erased_and_key_destroyed_entries_describe_without_data(ledger, db):
    subject = _collect(ledger)
    receipt = _erase(ledger, subject)
    with db.connect() as connection:
        bodies = dict(connection.execute(text("SELECT seq, body FROM ledger_entries")).all())
    erased, destroyed = bodies[receipt.erased_seq], bodies[receipt.key_destroyed_seq]
    assert b'"kind":"erased"' in erased and b'"fields":["email","name","phone"]' in erased
    assert b'"kind":"key-destroyed"' in destroyed and b'"wrapped_key_digest"' in destroyed
    assert b"contoso" not in erased.lower() + destroyed.lower()


@pytest.mark.parametrize("database_factory", ["sqlite"], indirect=True)
def test_sqlite_file_never_holds_the_plaintext(ledger, db):
    """The raw database file (and its WAL) is scanned, not just the tables."""
    subject = _collect(ledger)
    _erase(ledger, subject)
    path = Path(db.url.database)
    raw = b"".join(candidate.read_bytes() for candidate in path.parent.glob(path.name + "*"))
    for value in ("ann.example@contoso.com", "Ann Example", "020 7946 0018", "2079460018"):
        assert value.encode() not in raw.lower() and value.encode() not in raw
