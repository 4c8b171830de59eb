"""Personal data: encrypted per subject, bound to its row, found only through blind indexes."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from ledger.transactions import Ledger, LedgerKeys
from ledger.identifiers import IdentifierError, normalise_email, normalise_phone
from ledger.encryption import MasterKeys, VaultError
from ledger.keystore import SqlKeyStore

PERSON = {"email": "  Ann.Example@Contoso.COM ", "phone": "020 7946 0018", "name": "Ann Example"}


def _collect(ledger: Ledger, values: dict[str, str] = PERSON, appointment: str = "AAMk-1") -> str:
    with ledger.transaction() as tx:
        subject = tx.new_subject()
        tx.collect(subject, values, categories={field: "contact" for field in values}, purpose="appointment",
                   refs={"appointment": appointment})
    return subject


def dump_tables(engine) -> bytes:
    """Every cell of every ledger table, as bytes, to search for plaintext."""
    from sqlalchemy import inspect

    cells = []
    with engine.connect() as connection:
        for table in inspect(engine).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                cells.extend(value if isinstance(value, bytes) else str(value).encode() for value in row)
    return b"\x00".join(cells)


def test_stored_values_read_back_and_the_read_is_recorded(ledger):
    subject = _collect(ledger)
    with ledger.transaction() as tx:
        assert tx.read_personal_data(subject, viewer="officer-7", purpose="access-request") == PERSON
    with ledger.transaction() as tx:
        viewed = tx.append("exported")  # the entry before it is the `viewed` one
    with ledger.engine.connect() as connection:
        body = connection.execute(text("SELECT body FROM ledger_entries WHERE seq = :seq"), {"seq": viewed.seq - 1}).scalar()
    assert b'"kind":"viewed"' in body and b'"actor":"officer-7"' in body and b'"purpose":"access-request"' in body


def test_no_plaintext_identifier_anywhere_in_the_database(ledger, db):
    _collect(ledger)
    dump = dump_tables(db).lower()
    for value in ("ann.example@contoso.com", "ann example", "2079460018", "7946 0018", "contoso"):
        assert value.encode() not in dump


def test_collected_entry_names_fields_and_digests_but_no_values(ledger, db):
    subject = _collect(ledger)
    with db.connect() as connection:
        body = connection.execute(text("SELECT body FROM ledger_entries WHERE seq = 1")).scalar()
    assert subject.encode() in body and b'"fields":["email","name","phone"]' in body and b'"digests"' in body
    assert b"Ann" not in body and b"contoso" not in body.lower()


@pytest.mark.parametrize("column", ["subject_ref", "field", "category", "purpose", "id"])
def test_a_ciphertext_moved_to_another_row_does_not_decrypt(ledger, db, column):
    """Associated data binds each ciphertext to subject, row id, field, category and purpose."""
    first, second = _collect(ledger), _collect(ledger, {"email": "bob@example.org", "name": "Bob"})
    with db.begin() as connection:
        if column == "subject_ref":  # move Bob's name ciphertext under Ann's row of the same field
            connection.execute(text(
                "UPDATE personal_data SET ciphertext = (SELECT ciphertext FROM personal_data WHERE subject_ref = :b AND field = 'name') "
                "WHERE subject_ref = :a AND field = 'name'"), {"a": first, "b": second})
        elif column == "id":
            connection.execute(text("UPDATE personal_data SET id = id || 'x' WHERE subject_ref = :a AND field = 'name'"), {"a": first})
        else:
            connection.execute(text(f"UPDATE personal_data SET {column} = 'other' WHERE subject_ref = :a AND field = 'name'"), {"a": first})
    with pytest.raises(VaultError) as caught, ledger.transaction() as tx:
        tx.read_personal_data(first, viewer="officer-7", purpose="access-request")
    assert "Ann" not in str(caught.value)


def test_another_master_key_cannot_read(ledger, db, ledger_keys, keystore):
    subject = _collect(ledger)
    stranger_keys = LedgerKeys(MasterKeys(b"\x01" * 32), ledger_keys.blind_index_key, "GB")
    stranger = Ledger(db, stranger_keys, ledger.clock, keystore=SqlKeyStore(keystore.engine, stranger_keys.master))
    with pytest.raises(VaultError), stranger.transaction() as tx:
        tx.read_personal_data(subject, viewer="x", purpose="y")


@pytest.mark.parametrize("lookup", [
    {"email": "ann.example@contoso.com"}, {"email": "ANN.EXAMPLE@CONTOSO.COM  "},
    {"phone": "+44 20 7946 0018"}, {"phone": "02079460018"}, {"phone": "+442079460018"},
])
def test_lookup_by_normalised_email_or_phone_finds_the_subject(ledger, lookup):
    subject = _collect(ledger)
    _collect(ledger, {"email": "bob@example.org"})
    with ledger.transaction() as tx:
        assert tx.find_subjects(**lookup) == [subject]


def test_lookup_of_an_unknown_identifier_finds_nothing(ledger):
    _collect(ledger)
    with ledger.transaction() as tx:
        assert tx.find_subjects(email="someone@else.org") == []
        assert tx.find_subjects(phone="+1 202 555 0100") == []


def test_blind_index_uses_its_own_key(ledger, db, ledger_keys):
    _collect(ledger)
    other = Ledger(db, LedgerKeys(ledger_keys.master, b"\x02" * 32, "GB"), ledger.clock, keystore=ledger.keystore)
    with other.transaction() as tx:
        assert tx.find_subjects(email="ann.example@contoso.com") == []


def test_normalisation_rules():
    assert normalise_email("  Ann@Contoso.COM\n") == "ann@contoso.com"
    assert normalise_phone("020 7946 0018", "GB") == "+442079460018"
    assert normalise_phone("(202) 555-0100", "US") == "+12025550100"
    with pytest.raises(IdentifierError) as caught:
        normalise_phone("call me maybe", "GB")
    assert "call me" not in str(caught.value)
    with pytest.raises(IdentifierError):
        normalise_email("no-at-sign")
