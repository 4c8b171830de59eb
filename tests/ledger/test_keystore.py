"""The key store on its own: one key per subject and category, bound to both, in a private file."""
from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy import update

from config import SettingsError, load_settings
from ledger.encryption import VaultError
from ledger.keystore import data_keys


def test_each_category_has_a_key_of_its_own_and_it_is_kept(keystore):
    keys = keystore.keys_for("s-1", ["contact", "health"])
    assert keys["contact"] != keys["health"]
    assert keystore.keys_for("s-1", ["health"]) == {"health": keys["health"]}
    assert keystore.existing_keys("s-1") == keys and keystore.existing_keys("s-2") == {}


def test_a_wrapped_key_moved_to_another_subject_or_category_does_not_unwrap(keystore):
    keystore.keys_for("s-1", ["contact"])
    with keystore.engine.begin() as connection:
        connection.execute(update(data_keys).where(data_keys.c.subject_ref == "s-1").values(subject_ref="s-2"))
    with pytest.raises(VaultError, match="s-2"):
        keystore.existing_keys("s-2")
    with keystore.engine.begin() as connection:
        connection.execute(update(data_keys).values(subject_ref="s-1", category="health"))
    with pytest.raises(VaultError, match="health"):
        keystore.existing_keys("s-1")


def test_destroying_one_category_keeps_the_others(keystore):
    keys = keystore.keys_for("s-1", ["contact", "health"])
    destroyed = keystore.destroy_category("s-1", "health")
    assert destroyed.categories == ["health"] and destroyed.master_key_ids == [keystore.master.current_id]
    assert keystore.existing_keys("s-1") == {"contact": keys["contact"]}
    assert keystore.destroy_subject("s-1").categories == ["contact"] and keystore.existing_keys("s-1") == {}


@pytest.mark.parametrize("database_factory", ["sqlite"], indirect=True)
def test_the_sqlite_key_store_is_readable_by_its_owner_only(keystore):
    keystore.keys_for("s-1", ["contact"])
    path = Path(keystore.engine.url.database)
    for file in (path, Path(f"{path}-wal")):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file.name


def test_the_key_store_may_not_be_the_main_database():
    with pytest.raises(SettingsError, match="KEYSTORE_URL must name a database other than DATABASE_URL"):
        load_settings({"DATABASE_URL": "sqlite:///var/ledger.db", "KEYSTORE_URL": "sqlite:///var/ledger.db"})
