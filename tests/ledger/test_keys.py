"""Keys: `keys generate` gives valid settings; `keys rotate` re-wraps the key store's keys, idempotent and restart-safe."""
from __future__ import annotations

import base64

import pytest
from sqlalchemy import text

from config import load_settings
from ledger.encryption import MasterKeys, key_id
from ledger.key_rotation import rotate_master_key
from ledger.keystore import SqlKeyStore
from ledger.transactions import Ledger, LedgerKeys
from test_personal_data import PERSON, _collect


def _master_key_ids(keystore) -> set[str]:
    with keystore.engine.connect() as connection:
        return set(connection.execute(text("SELECT master_key_id FROM data_keys")).scalars())


def _under(keystore, master: MasterKeys) -> SqlKeyStore:
    """The same key store, opened with other master keys (as after a settings change)."""
    return SqlKeyStore(keystore.engine, master)


def test_generated_keys_are_valid_settings(cli):
    code, output = cli("keys", "generate")
    assert code == 0
    values = dict(line.split("=", 1) for line in output.strip().splitlines())
    assert set(values) == {"LEDGER_MASTER_KEY", "BLIND_INDEX_KEY", "CHECKPOINT_SIGNING_KEY", "CHECKPOINT_VERIFIER_KEY",
                           "SECRET_KEY", "CLIENT_STATE_KEY"}
    settings = load_settings(values)
    assert len(settings.key("LEDGER_MASTER_KEY")) == 32 and len(settings.key("CHECKPOINT_SIGNING_KEY")) == 32
    assert len(settings.key("CLIENT_STATE_KEY")) == 32
    # The verifier key is the public half of the signing key, under CHECKPOINT_ORIGIN.
    from ledger.core import signed_notes

    origin = load_settings().CHECKPOINT_ORIGIN
    note = signed_notes.sign_checkpoint(origin, 1, bytes(32), settings.key("CHECKPOINT_SIGNING_KEY"))
    assert signed_notes.verify_checkpoint(note, values["CHECKPOINT_VERIFIER_KEY"]).origin == origin


def test_rotation_rewraps_every_data_key_and_is_idempotent(ledger, db, keystore, ledger_keys, clock):
    subjects = [_collect(ledger, appointment=f"A{n}") for n in range(5)]
    old = ledger_keys.master.current
    rotated = _under(keystore, MasterKeys(b"\x07" * 32, (old,)))
    first = rotate_master_key(db, rotated, rotated.master.current_id, clock, batch=2)
    assert (first.rewrapped, first.unknown, len(first.entry_seqs)) == (5, 0, 3)
    assert _master_key_ids(keystore) == {key_id(b"\x07" * 32)}
    assert rotate_master_key(db, rotated, rotated.master.current_id, clock).rewrapped == 0
    new_master = MasterKeys(b"\x07" * 32)
    only_new = Ledger(db, LedgerKeys(new_master, ledger_keys.blind_index_key, "GB"), clock, keystore=_under(keystore, new_master))
    with only_new.transaction() as tx:
        assert tx.read_personal_data(subjects[0], viewer="officer", purpose="check") == PERSON


def test_rotation_resumes_after_a_crash(ledger, db, keystore, ledger_keys, clock, monkeypatch):
    for n in range(4):
        _collect(ledger, appointment=f"A{n}")
    rotated = _under(keystore, MasterKeys(b"\x07" * 32, (ledger_keys.master.current,)))
    calls = {"n": 0}
    real = rotated.rewrap

    def crash_on_second_batch(batch):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("power cut")
        return real(batch)

    monkeypatch.setattr(rotated, "rewrap", crash_on_second_batch)
    with pytest.raises(RuntimeError):
        rotate_master_key(db, rotated, rotated.master.current_id, clock, batch=2)
    assert len(_master_key_ids(keystore)) == 2  # half done, and committed
    monkeypatch.setattr(rotated, "rewrap", real)
    assert rotate_master_key(db, rotated, rotated.master.current_id, clock, batch=2).rewrapped == 2
    assert _master_key_ids(keystore) == {rotated.master.current_id}


def test_rotate_command_rewraps_and_records_an_entry(cli, db, keystore, key_set, ledger, monkeypatch):
    _collect(ledger)
    new_key = b"\x09" * 32
    monkeypatch.setenv("LEDGER_MASTER_KEY", base64.b64encode(new_key).decode())
    monkeypatch.setenv("LEDGER_PREVIOUS_MASTER_KEYS", base64.b64encode(key_set.master).decode())
    code, output = cli("keys", "rotate")
    assert code == 0, output
    assert "re-wrapped 1 data keys in the key store" in output
    with db.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM entry_index WHERE kind = 'key-rotated'")).scalar() == 1
    assert cli("keys", "rotate")[0] == 0
    assert _master_key_ids(keystore) == {key_id(new_key)}


def test_rotate_command_reports_keys_under_unconfigured_master_keys(cli, db, ledger, monkeypatch):
    _collect(ledger)
    monkeypatch.setenv("LEDGER_MASTER_KEY", base64.b64encode(b"\x09" * 32).decode())
    code, output = cli("keys", "rotate")
    assert code == 1
    assert "1 data keys are wrapped by master keys not configured" in output
