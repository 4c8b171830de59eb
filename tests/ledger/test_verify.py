"""`bookings-ledger verify`: one line and exit 0 when intact; exit 1 naming the first bad seq."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from ledger.checkpoint_store import create_checkpoint
from tampering import rows, replace_rows, without_triggers


@pytest.fixture
def filled(cli, ledger, signer, clock):
    """A migrated database with 10 entries, a checkpoint at 6 (its entry is 7) and 3 more."""
    with ledger.transaction() as tx:
        for number in range(6):
            tx.append("exported", number=number)
        create_checkpoint(tx.session, signer, clock())
        for number in range(3):
            tx.append("exported", number=number)
    return ledger


def test_intact_ledger_exits_0_with_one_line(cli, filled):
    code, output = cli("verify")
    assert code == 0
    assert output.strip() == "ledger intact: 10 entries, 1 checkpoints"


def test_empty_ledger_is_intact(cli, db):
    assert cli("verify") == (0, "ledger intact: 0 entries, 0 checkpoints\n")


def test_modified_body_is_named(cli, filled, db):
    with without_triggers(db) as connection:
        connection.execute(text("UPDATE ledger_entries SET body = :b WHERE seq = 4"), {"b": b'{"forged":true}'})
    code, output = cli("verify")
    assert code == 1
    assert "first bad seq 4" in output


def test_deleted_last_entry_is_named_through_the_head(cli, filled, db):
    with without_triggers(db) as connection:
        connection.execute(text("DELETE FROM ledger_entries WHERE seq = 10"))
    code, output = cli("verify")
    assert code == 1 and "first bad seq 10" in output


def test_default_verify_catches_an_old_rewrite_that_kept_its_hash(cli, filled, db, signer, clock):
    """A body rewritten before the last verified checkpoint, its stored hash kept, fails the default verify."""
    assert cli("verify")[0] == 0
    with filled.transaction() as tx:
        create_checkpoint(tx.session, signer, clock())  # size 10; its entry is 11
        tx.append("exported")
    assert cli("verify") == (0, "ledger intact: 12 entries, 2 checkpoints\n")
    stored = rows(db)
    stored[1] = (2, stored[1][1].replace(b'"number":1', b'"number":7'), stored[1][2])
    replace_rows(db, stored)
    code, output = cli("verify")
    assert code == 1 and "first bad seq 2: broken at seq 2 (modified body)" in output


def test_since_checkpoint_resumes_from_the_last_verified_checkpoint(cli, filled, db, signer, clock):
    """The opt-in shortcut re-hashes only what follows the checkpoint the last run verified."""
    assert cli("verify")[0] == 0
    with filled.transaction() as tx:
        create_checkpoint(tx.session, signer, clock())
        tx.append("exported")
    code, output = cli("verify", "--since-checkpoint")
    assert (code, output) == (0, "ledger intact: 12 entries, 2 checkpoints (entries 7..12 re-walked since checkpoint size 6)\n")
    code, output = cli("verify", "--since-checkpoint")
    assert code == 0 and "entries 11..12 re-walked since checkpoint size 10" in output
    # The shortcut trusts the checkpoint for what lies before it: that is what the default is for.
    stored = rows(db)
    stored[1] = (2, stored[1][1] + b" ", stored[1][2])
    replace_rows(db, stored)
    assert cli("verify", "--since-checkpoint")[0] == 0
    assert cli("verify")[0] == 1


def test_changed_hash_at_the_resume_point_is_named(cli, filled, db, signer, clock):
    assert cli("verify")[0] == 0
    with without_triggers(db) as connection:
        connection.execute(text("UPDATE ledger_entries SET hash = :h WHERE seq = 6"), {"h": bytes(32)})
    code, output = cli("verify", "--since-checkpoint")
    assert code == 1 and "first bad seq 6" in output


def test_checkpoint_whose_root_the_ledger_does_not_produce_fails(cli, filled, db):
    """A chain rewritten consistently after a checkpoint is caught by the checkpoint's root."""
    from ledger.core.canonical import canonical_bytes, entry_hash, parse_entry

    stored, previous, rewritten = rows(db), bytes(32), []
    for seq, body, _digest in stored:
        entry = parse_entry(body)
        if seq == 3:
            entry["number"] = 99
        body = canonical_bytes(entry)
        previous = entry_hash(previous, body)
        rewritten.append((seq, body, previous))
    replace_rows(db, rewritten)
    with db.begin() as connection:
        connection.execute(text("UPDATE ledger_head SET hash = :h"), {"h": previous})
    code, output = cli("verify")
    assert code == 1 and "does not match the ledger's Merkle root" in output


def test_verify_without_the_verifier_key_is_a_settings_error(tmp_path, monkeypatch, capsys):
    """Stored checkpoints cannot be checked without the public key: exit 2 naming the setting, not 'tampered'.
    The signing key alone is not enough: verify never derives the public key from it."""
    import base64
    import os

    from bookings_ledger.cli import main
    from database.engine import create_ledger_engine, upgrade

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    upgrade(create_ledger_engine(url))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("CHECKPOINT_SIGNING_KEY", base64.b64encode(os.urandom(32)).decode())
    assert main(["checkpoint", "export", str(tmp_path / "checkpoint.note")]) == 0
    monkeypatch.delenv("CHECKPOINT_VERIFIER_KEY", raising=False)
    capsys.readouterr()
    assert main(["verify"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "setting CHECKPOINT_VERIFIER_KEY is required" in error
    monkeypatch.setenv("CHECKPOINT_VERIFIER_KEY", "not+a+key")
    assert main(["verify"]) == 2
    assert "setting CHECKPOINT_VERIFIER_KEY" in capsys.readouterr().err
