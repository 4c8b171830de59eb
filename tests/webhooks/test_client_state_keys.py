"""clientStates need no master key: migration 0011 turns stored ciphertexts into keyed hashes, and
rotating LEDGER_MASTER_KEY as docs/ledger.md says (old key into LEDGER_PREVIOUS_MASTER_KEYS,
`keys rotate`, old key dropped) leaves every genuine notification accepted."""
from __future__ import annotations

import base64
import json
import os

import pytest
from sqlalchemy import text

from bookings_ledger.app import close_app, create_app
from bookings_ledger.cli import main
from config import SettingsError
from database.engine import upgrade
from ledger.encryption import MasterKeys, encrypt_value, key_id
from ledger.keystore import open_keystore
from ledger.transactions import Ledger, LedgerKeys
from webhook_items import MAILBOX, NOW, TENANT, inbox_rows, notification, post

SUBSCRIPTION = "7e6d5c4b-3a29-4817-9605-f4e3d2c1b0a9"
SECRET = "the-subscriptions-secret-" + "q" * 39
PRE_HASH_REVISION = "0006"
KEY_SETTINGS = ("LEDGER_MASTER_KEY", "LEDGER_PREVIOUS_MASTER_KEYS", "BLIND_INDEX_KEY", "CHECKPOINT_SIGNING_KEY",
                "CLIENT_STATE_KEY", "CLIENT_STATE_PREVIOUS_KEYS")


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


@pytest.fixture
def operator_env(monkeypatch, tmp_path):
    """Settings come from the environment alone (no .env), starting with no key at all."""
    for name in KEY_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)

    def set_env(**values: str | None) -> None:
        for name, value in values.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)

    return set_env


def store_encrypted_subscription(engine, master_key: bytes) -> None:
    """A subscription as revisions before 0011 stored it: AES-GCM under the master key."""
    sealed = encrypt_value(master_key, SECRET, json.dumps(["client_state", SUBSCRIPTION]).encode())
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO graph_subscriptions (subscription_id, business_id, resource, client_state, master_key_id,"
                 " expires_at, state, updated_at) VALUES (:id, :b, :r, :cs, :kid, :t, 'active', :t)"),
            {"id": SUBSCRIPTION, "b": MAILBOX, "r": f"users/{MAILBOX}/events", "cs": sealed,
             "kid": key_id(master_key), "t": "2026-11-27T09:00:00.000000Z"})


def web_app(database_url: str, client_state_key: str):
    """The web process as deployed: the database, CLIENT_STATE_KEY and the tenant, no ledger key."""
    return create_app({"DATABASE_URL": database_url, "CLIENT_STATE_KEY": client_state_key, "GRAPH_TENANT_ID": TENANT},
                      clock=lambda: NOW)


def genuine_is_stored(app) -> bool:
    client = app.test_client()
    subscription = {"id": SUBSCRIPTION, "client_state": SECRET}
    assert post(client, notification(subscription, client_state="forged-" + SECRET[7:])).status_code == 202
    assert inbox_rows(app) == []
    assert post(client, notification(subscription)).status_code == 202
    return inbox_rows(app) == [(SUBSCRIPTION, "created", "AAMkAD-event-1")]


def test_a_fresh_database_migrates_with_no_key_at_all(engine, operator_env):
    upgrade(engine)


@pytest.mark.parametrize("under", ["current", "previous"])
def test_migration_hashes_stored_client_states_and_the_web_app_accepts_them(engine, database_url, operator_env,
                                                                            under):
    old, current, hash_key = os.urandom(32), os.urandom(32), b64(os.urandom(32))
    upgrade(engine, PRE_HASH_REVISION)
    store_encrypted_subscription(engine, current if under == "current" else old)
    operator_env(LEDGER_MASTER_KEY=b64(current), LEDGER_PREVIOUS_MASTER_KEYS=b64(old), CLIENT_STATE_KEY=hash_key)
    upgrade(engine)
    with engine.connect() as connection:
        columns = connection.execute(text("SELECT * FROM graph_subscriptions")).mappings().one().keys()
    assert "client_state" not in columns and "master_key_id" not in columns
    app = web_app(database_url, hash_key)
    assert genuine_is_stored(app)
    close_app(app)


def test_migration_with_rows_and_no_client_state_key_stops_naming_it_and_changes_nothing(engine, operator_env):
    master = os.urandom(32)
    upgrade(engine, PRE_HASH_REVISION)
    store_encrypted_subscription(engine, master)
    operator_env(LEDGER_MASTER_KEY=b64(master))
    with pytest.raises(SettingsError, match="CLIENT_STATE_KEY"):
        upgrade(engine)
    operator_env(CLIENT_STATE_KEY=b64(os.urandom(32)))
    upgrade(engine)   # nothing was half done: the same upgrade now completes


def test_master_key_rotation_as_documented_keeps_genuine_notifications_accepted(engine, database_url, keystore_url,
                                                                              operator_env):
    """Old key into LEDGER_PREVIOUS_MASTER_KEYS, `keys rotate`, old key dropped: still 202 and stored."""
    old, new, blind, hash_key = os.urandom(32), os.urandom(32), os.urandom(32), b64(os.urandom(32))
    upgrade(engine, PRE_HASH_REVISION)
    store_encrypted_subscription(engine, old)
    operator_env(LEDGER_MASTER_KEY=b64(old), BLIND_INDEX_KEY=b64(blind), CLIENT_STATE_KEY=hash_key, DATABASE_URL=database_url,
                 KEYSTORE_URL=keystore_url)
    upgrade(engine)
    keystore = open_keystore(keystore_url, MasterKeys(old))
    with Ledger(engine, LedgerKeys(MasterKeys(old), blind), lambda: NOW, keystore=keystore).transaction() as tx:
        tx.collect(tx.new_subject(), {"name": "A Person"}, categories={"name": "booking.identity"}, purpose="appointment")
    keystore.close()
    operator_env(LEDGER_MASTER_KEY=b64(new), LEDGER_PREVIOUS_MASTER_KEYS=b64(old))
    assert main(["keys", "rotate"]) == 0
    operator_env(LEDGER_PREVIOUS_MASTER_KEYS=None)
    assert main(["keys", "rotate"]) == 0   # nothing left under the old key
    app = web_app(database_url, hash_key)
    assert genuine_is_stored(app)
    close_app(app)
