"""Revision 0009 re-indexes blind indexes written under the old normalisation (NFC, lower-cased,
extensions dropped, merely possible numbers accepted): after it, the new spellings find the
subject, the old digests are gone, and a value the new rules refuse keeps no index."""
from __future__ import annotations

import hashlib
import hmac

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bookings_ledger.migration_steps import data_steps
from config import SettingsError, load_settings
from database.engine import upgrade
from ledger import personal_data
from ledger.models import BlindIndex
from ledger.transactions import Ledger

BEFORE = "0008_chain_content"  # the revision before the re-index: data keys already in the key store


def _old_digest(key: bytes, kind: str, old_form: str) -> bytes:
    return hmac.new(key, kind.encode() + b"\x00" + old_form.encode(), hashlib.sha256).digest()


def _store_as_before(ledger: Ledger, values: dict[str, str], old_digests: list[tuple[str, str]]) -> str:
    """A subject as the old code left it: values stored, indexed by the old normal forms."""
    with ledger.transaction() as tx:
        subject = tx.new_subject()
        data_keys = ledger.keystore.keys_for(subject, ["contact"])
        personal_data.store_values(tx.session, data_keys, subject, values, categories=dict.fromkeys(values, "contact"),
                                   purpose="appointment", created_at="2024-02-26T09:00:00.000000Z")
        tx.session.execute(delete(BlindIndex).where(BlindIndex.subject_ref == subject))
        personal_data.add_blind_indexes(tx.session, subject, [
            (kind, _old_digest(ledger.keys.blind_index_key, kind, form)) for kind, form in old_digests
        ])
    return subject


@pytest.fixture
def old_ledger(engine, ledger_keys, keystore, keystore_url, clock, monkeypatch) -> Ledger:
    """A ledger migrated only up to the revision before the re-index; the migration finds its key
    store through KEYSTORE_URL, as `db upgrade` does."""
    monkeypatch.setenv("KEYSTORE_URL", keystore_url)
    upgrade(engine, BEFORE)
    return Ledger(engine, ledger_keys, clock, keystore=keystore)


def _index_rows(ledger: Ledger, subject: str) -> int:
    with Session(ledger.engine) as session:
        return session.scalar(select(func.count()).select_from(BlindIndex).where(BlindIndex.subject_ref == subject))


def test_the_reindex_makes_every_spelling_find_the_subject_and_drops_stale_digests(old_ledger, key_set, monkeypatch):
    for name, value in key_set.settings().items():
        monkeypatch.setenv(name, value)
    jorg = _store_as_before(old_ledger, {"email": "Jörg@Bücher.example", "phone": "+44 20 7946 0018 ext. 12"},
                            [("email", "jörg@bücher.example"), ("phone", "+442079460018")])
    switchboard = _store_as_before(old_ledger, {"phone": "+44 20 7946 0018"}, [("phone", "+442079460018")])
    invalid = _store_as_before(old_ledger, {"phone": "+1 555 0100", "name": "N. N."}, [("phone", "+15550100")])
    with old_ledger.transaction() as tx:  # before: the A-label misses, the switchboard finds both
        assert tx.find_subjects(email="jörg@xn--bcher-kva.example") == []
        assert tx.find_subjects(phone="+44 20 7946 0018") == sorted([jorg, switchboard])

    upgrade(old_ledger.engine, data_steps=data_steps(load_settings()))

    with old_ledger.transaction() as tx:
        assert tx.find_subjects(email="JÖRG@xn--bcher-kva.example.") == [jorg]
        assert tx.find_subjects(phone="020 7946 0018 x12") == [jorg]
        assert tx.find_subjects(phone="+44 20 7946 0018") == [switchboard]
    assert (_index_rows(old_ledger, jorg), _index_rows(old_ledger, switchboard), _index_rows(old_ledger, invalid)) == (2, 1, 0)


def test_a_database_without_blind_indexes_migrates_without_any_key(old_ledger, monkeypatch):
    for name in ("LEDGER_MASTER_KEY", "BLIND_INDEX_KEY"):
        monkeypatch.delenv(name, raising=False)
    upgrade(old_ledger.engine, data_steps=data_steps(load_settings()))


def test_a_database_with_blind_indexes_needs_the_keys_and_says_which(old_ledger, monkeypatch):
    _store_as_before(old_ledger, {"email": "ann@example.com"}, [("email", "ann@example.com")])
    for name in ("LEDGER_MASTER_KEY", "BLIND_INDEX_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SettingsError, match="LEDGER_MASTER_KEY"):
        upgrade(old_ledger.engine, data_steps=data_steps(load_settings()))
