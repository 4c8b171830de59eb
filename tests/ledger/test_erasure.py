"""Erasure is final: after it, no file of the key store holds the subject's keys, and nothing of the
subject decrypts from a byte copy of the main database taken before it, with every key the settings
hold and the live key store. Tested as an attacker would, on the raw files, on both backends."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from carving import decrypts_with_any, live_files, unwraps_anywhere
from database.times import format_time
from ledger import encryption
from ledger.erasure import ErasedSubject
from ledger.integrity import verify_ledger
from ledger.keystore import data_keys
from ledger.transactions import LedgerTransaction
from test_personal_data import dump_tables

ANN = {"email": "ann.example@contoso.com", "phone": "020 7946 0018", "name": "Ann Example", "notes": "Asthma, inhaler."}
BOB = {"email": "bob@example.org", "phone": "020 7946 0999", "name": "Bob Other", "notes": "Knee."}
CATEGORIES = {"email": "contact", "phone": "contact", "name": "identity", "notes": "health"}


def _collect(ledger, values, appointment):
    with ledger.transaction() as tx:
        subject = tx.new_subject()
        tx.collect(subject, values, categories=CATEGORIES, purpose="appointment", refs={"appointment": appointment})
    return subject


def _erase(ledger, subject, appointment="AAMk-1"):
    return ledger.erase_subject(subject, reason="erasure-request", refs={"request": "r-1"}, tombstones=[("appointment", appointment)])


def _wrapped_keys(keystore, subject):
    """The subject's wrapped key bytes as the key store holds them, by category."""
    with keystore.engine.connect() as connection:
        rows = connection.execute(select(data_keys.c.category, data_keys.c.wrapped_key).where(data_keys.c.subject_ref == subject))
        return dict(rows.all())


def _ciphertexts(db, subject):
    """(category, ciphertext, its associated data) of each stored field of the subject."""
    with db.connect() as connection:
        rows = connection.execute(text(
            "SELECT id, field, category, purpose, ciphertext FROM personal_data WHERE subject_ref = :s"), {"s": subject}).all()
    return [(row.category, bytes(row.ciphertext), encryption.field_context(subject, row.id, row.field, row.category, row.purpose))
            for row in rows]


def _every_key_the_service_holds(ledger, keystore, subjects):
    """Every key an attacker with the settings and the live key store has: the master and blind-index
    keys, and every data key the key store can still unwrap (of every subject given)."""
    live = [key for subject in subjects for key in keystore.existing_keys(subject).values()]
    return [ledger.keys.master.current, ledger.keys.blind_index_key, *live]


def test_erased_subject_cannot_be_read_found_or_revived(ledger, db, clock):
    subject = _collect(ledger, ANN, "AAMk-1")
    survivor = _collect(ledger, BOB, "AAMk-2")
    receipt = _erase(ledger, subject)
    with ledger.transaction() as tx:
        assert tx.find_subjects(email=ANN["email"]) == [] and tx.find_subjects(phone=ANN["phone"]) == []
        assert tx.find_subjects(email=BOB["email"]) == [survivor]
        assert tx.is_tombstoned("appointment", "AAMk-1") and not tx.is_tombstoned("appointment", "AAMk-2")
        assert tx.subject(subject).status == "erased" and tx.record("appointment", "AAMk-1").state == "erased"
        assert tx.read_personal_data(subject, viewer="officer-7", purpose="access-request") == {}
        assert tx.read_personal_data(survivor, viewer="officer-7", purpose="access-request") == BOB
    with pytest.raises(ErasedSubject), ledger.transaction() as tx:
        tx.collect(subject, {"name": "Ann"}, categories=CATEGORIES, purpose="appointment")
    assert ledger.keystore.existing_keys(subject) == {}
    assert receipt.key_destroyed_seq == receipt.erased_seq + 1
    assert verify_ledger(db, verifier_key=None, origin=None, clock=clock).ok


def test_erasure_deletes_every_row_of_the_subject_in_both_databases(ledger, db, keystore):
    subject = _collect(ledger, ANN, "AAMk-1")
    _erase(ledger, subject)
    with db.connect() as connection:
        for table in ("personal_data", "blind_indexes", "erasure_intents"):
            count = connection.execute(text(f"SELECT count(*) FROM {table} WHERE subject_ref = :s"), {"s": subject}).scalar()
            assert count == 0, table
    assert _wrapped_keys(keystore, subject) == {}
    dump = dump_tables(db).lower()
    assert b"ann" not in dump.replace(b"anonymised", b"") and b"contoso" not in dump and b"asthma" not in dump


def test_the_receipt_and_the_erased_entry_carry_the_moment_it_is_final(ledger, db, keystore, clock):
    """Final everywhere = the key store's deletion and scrub completed + its documented backup retention."""
    keystore.backup_retention = timedelta(days=30)
    subject = _collect(ledger, ANN, "AAMk-1")
    receipt = _erase(ledger, subject)
    assert receipt.keys_destroyed_at == format_time(clock())
    assert receipt.final_everywhere_at == format_time(clock() + timedelta(days=30))
    with db.connect() as connection:
        bodies = dict(connection.execute(text("SELECT seq, body FROM ledger_entries")).all())
    erased, destroyed = bytes(bodies[receipt.erased_seq]), bytes(bodies[receipt.key_destroyed_seq])
    assert f'"final_everywhere_at":"{receipt.final_everywhere_at}"'.encode() in erased
    assert f'"keys_destroyed_at":"{receipt.keys_destroyed_at}"'.encode() in erased
    assert b'"kind":"erased"' in erased and b'"fields":["email","name","notes","phone"]' in erased
    assert b'"kind":"key-destroyed"' in destroyed and b'"categories":["contact","health","identity"]' in destroyed
    assert b"contoso" not in erased.lower() + destroyed.lower()


@pytest.mark.parametrize("erased_first", [True, False], ids=["erased-written-first", "erased-written-last"])
def test_no_file_of_the_key_store_holds_an_erased_key(ledger, keystore, erased_first):
    """Carving: the wrapped key bytes were in the live files before, and are in none after (a survivor's stay).
    Both orders, since a page keeps the bytes of its last-written row where a compaction does not reach."""
    if erased_first:
        subject, survivor = _collect(ledger, ANN, "AAMk-1"), _collect(ledger, BOB, "AAMk-2")
    else:
        survivor, subject = _collect(ledger, BOB, "AAMk-2"), _collect(ledger, ANN, "AAMk-1")
    erased_keys, kept_keys = _wrapped_keys(keystore, subject), _wrapped_keys(keystore, survivor)
    before = live_files(keystore.engine)
    assert all(wrapped in before for wrapped in erased_keys.values())  # the scan sees where keys are written
    _erase(ledger, subject)
    after = live_files(keystore.engine)
    assert not any(wrapped in after for wrapped in erased_keys.values())
    assert not unwraps_anywhere(after, ledger.keys.master.by_id.values(), subject, CATEGORIES.values())
    assert all(wrapped in after for wrapped in kept_keys.values())


def test_a_copy_of_the_main_database_taken_before_erasure_decrypts_nothing_of_the_subject(ledger, db, keystore):
    subject, survivor = _collect(ledger, ANN, "AAMk-1"), _collect(ledger, BOB, "AAMk-2")
    backup = live_files(db)  # the attacker's byte copy of the main database
    stolen = _ciphertexts(db, subject)
    assert stolen and all(ciphertext in backup for _category, ciphertext, _context in stolen)
    assert not unwraps_anywhere(backup, ledger.keys.master.by_id.values(), subject, CATEGORIES.values())
    _erase(ledger, subject)
    keys = _every_key_the_service_holds(ledger, keystore, [subject, survivor])
    assert not any(decrypts_with_any(ciphertext, context, keys) for _category, ciphertext, context in stolen)
    # The same attack on a subject still held succeeds: the attacker's tools are not blunt.
    assert all(decrypts_with_any(ciphertext, context, keys) for _category, ciphertext, context in _ciphertexts(db, survivor))


def test_destroying_one_category_leaves_the_others_readable_and_it_unreadable_everywhere(ledger, db, keystore):
    subject = _collect(ledger, ANN, "AAMk-1")
    backup, stolen = live_files(db), _ciphertexts(db, subject)
    health_key = _wrapped_keys(keystore, subject)["health"]
    receipt = ledger.destroy_category(subject, "health", reason="retention-expired")
    assert receipt.category == "health" and receipt.erased_seq is None
    with ledger.transaction() as tx:
        assert tx.read_personal_data(subject, viewer="officer-7", purpose="check") == {k: v for k, v in ANN.items() if k != "notes"}
        assert tx.find_subjects(email=ANN["email"]) == [subject] and tx.subject(subject).status == "active"
    after = live_files(keystore.engine)
    assert health_key not in after and not unwraps_anywhere(after, ledger.keys.master.by_id.values(), subject, ["health"])
    keys = _every_key_the_service_holds(ledger, keystore, [subject])
    assert all(ciphertext in backup for _c, ciphertext, _x in stolen)
    readable = {category for category, ciphertext, context in stolen if decrypts_with_any(ciphertext, context, keys)}
    assert readable == {"contact", "identity"}
    assert b"asthma" not in dump_tables(db).lower()


def test_destroying_the_contact_category_removes_its_blind_indexes(ledger):
    subject = _collect(ledger, ANN, "AAMk-1")
    ledger.destroy_category(subject, "contact", reason="retention-expired")
    with ledger.transaction() as tx:
        assert tx.find_subjects(email=ANN["email"]) == [] and tx.find_subjects(phone=ANN["phone"]) == []
        assert set(tx.read_personal_data(subject, viewer="officer-7", purpose="check")) == {"name", "notes"}


@pytest.mark.parametrize("crash_in", ["key store", "main database"])
def test_a_crash_during_erasure_is_finished_by_the_next_run(ledger, db, keystore, monkeypatch, clock, crash_in):
    """Intent first, key store second, main database last: a crash anywhere leaves the intent, and the
    next run (finish_erasures, run when a process opens the key store) completes it."""
    subject = _collect(ledger, ANN, "AAMk-1")
    target = (keystore, "destroy_subject") if crash_in == "key store" else (LedgerTransaction, "record_erasure")
    monkeypatch.setattr(*target, _power_cut)
    with pytest.raises(ConnectionAbortedError):
        _erase(ledger, subject)
    monkeypatch.undo()
    assert bool(_wrapped_keys(keystore, subject)) == (crash_in == "key store")
    with pytest.raises(ErasedSubject), ledger.transaction() as tx:  # nothing is collected meanwhile
        tx.collect(subject, {"name": "Ann"}, categories=CATEGORIES, purpose="appointment")
    (receipt,) = ledger.finish_erasures()
    assert ledger.finish_erasures() == []
    assert receipt.subject == subject and _wrapped_keys(keystore, subject) == {} and _ciphertexts(db, subject) == []
    with ledger.transaction() as tx:
        assert tx.is_tombstoned("appointment", "AAMk-1") and tx.subject(subject).status == "erased"
    with db.connect() as connection:
        kinds = connection.execute(text("SELECT kind FROM entry_index WHERE subject_ref = :s ORDER BY seq"), {"s": subject}).scalars()
        assert list(kinds) == ["collected", "erased", "key-destroyed"]
    assert verify_ledger(db, verifier_key=None, origin=None, clock=clock).ok


def _power_cut(*_args, **_kwargs):
    raise ConnectionAbortedError("power cut")
