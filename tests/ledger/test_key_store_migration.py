"""Migration 0007_key_store: a pre-0007 database's data keys leave it for the key store, each category
re-encrypted under a key of its own, and the old wrapped keys leave the main database's files."""
from __future__ import annotations

import json
import os
import secrets

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import inspect, text

from carving import live_files
from database.engine import upgrade
from ledger import encryption
from ledger.key_store_migration import move_data_keys
from ledger.transactions import Ledger

VALUES = {"email": ("ann@contoso.com", "contact"), "name": ("Ann Example", "identity"), "notes": ("Asthma.", "health")}


def _seal(key: bytes, plaintext: bytes, context: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, context)


def _write_pre_0007_subject(engine, master: bytes) -> tuple[str, bytes]:
    """One subject as the schema before 0007 stored it: one data key in `data_keys`, rows under it."""
    subject, data_key = secrets.token_hex(16), os.urandom(32)
    wrapped = _seal(master, data_key, json.dumps(["data_key", subject]).encode())
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO data_keys VALUES (:s, :w, :m, '2024-02-26T09:00:00.000000Z')"),
                           {"s": subject, "w": wrapped, "m": encryption.key_id(master)})
        for field, (value, category) in VALUES.items():
            row_id = secrets.token_hex(16)
            context = encryption.field_context(subject, row_id, field, category, "appointment")
            connection.execute(text(
                "INSERT INTO personal_data VALUES (:id, :s, :f, :c, 'appointment', :ct, '2024-02-26T09:00:00.000000Z')"
            ), {"id": row_id, "s": subject, "f": field, "c": category, "ct": _seal(data_key, value.encode(), context)})
    return subject, wrapped


def test_existing_keys_move_to_the_key_store_per_category_and_leave_the_main_file(engine, keystore, ledger_keys, clock):
    upgrade(engine, "0006")
    subject, old_wrapped = _write_pre_0007_subject(engine, ledger_keys.master.current)
    assert old_wrapped in live_files(engine)
    upgrade(engine, data_steps={"move_data_keys": lambda connection: move_data_keys(connection, keystore, ledger_keys.master)})
    assert "data_keys" not in inspect(engine).get_table_names()
    assert old_wrapped not in live_files(engine)  # dropped, then VACUUMed out of the file
    assert set(keystore.existing_keys(subject)) == {"contact", "identity", "health"}
    ledger = Ledger(engine, ledger_keys, clock, keystore=keystore)
    with ledger.transaction() as tx:
        assert tx.read_personal_data(subject, viewer="officer-7", purpose="check") == {f: v for f, (v, _c) in VALUES.items()}
    # Each category has a key of its own: destroying one leaves the others readable.
    ledger.destroy_category(subject, "health", reason="retention-expired")
    with ledger.transaction() as tx:
        assert set(tx.read_personal_data(subject, viewer="officer-7", purpose="check")) == {"email", "name"}


def test_keys_to_move_and_no_mover_stops_with_the_command_to_run(engine, ledger_keys):
    upgrade(engine, "0006")
    _write_pre_0007_subject(engine, ledger_keys.master.current)
    with pytest.raises(RuntimeError, match="bookings-ledger db upgrade"):
        upgrade(engine)
    assert "data_keys" in inspect(engine).get_table_names()  # nothing half done


def test_db_upgrade_command_moves_the_keys(cli, engine, keystore, ledger_keys):
    upgrade(engine, "0006")
    subject, _wrapped = _write_pre_0007_subject(engine, ledger_keys.master.current)
    code, output = cli("db", "upgrade")
    assert code == 0, output
    assert "moved the data keys of 1 subjects to the key store" in output
    assert set(keystore.existing_keys(subject)) == {"contact", "identity", "health"}
