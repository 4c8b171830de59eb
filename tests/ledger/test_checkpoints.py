"""Checkpoints: export and verify with the public key alone; inclusion proofs; export for auditors."""
from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import text

from ledger.core import merkle, signed_notes
from ledger.checkpoint_store import create_checkpoint, inclusion_proof, stored_checkpoints
from tampering import without_triggers


@pytest.fixture
def appended(ledger):
    with ledger.transaction() as tx:
        for number in range(7):
            tx.append("exported", number=number)
    return ledger


def test_export_writes_a_signed_note_that_verifies_with_the_public_key(cli, appended, signer, tmp_path):
    code, output = cli("checkpoint", "export", str(tmp_path / "cp.txt"))
    assert code == 0, output
    note = (tmp_path / "cp.txt").read_text()
    checkpoint = signed_notes.verify_checkpoint(note, signer.verifier_key)
    assert (checkpoint.origin, checkpoint.size) == ("test.example/ledger", 7)
    assert list((tmp_path / "checkpoints").glob("checkpoint-*.txt"))
    assert cli("checkpoint", "verify", str(tmp_path / "cp.txt"), "--key", signer.verifier_key) == (
        0, "checkpoint of 7 entries matches the ledger\n"
    )


def test_checkpoint_signed_by_another_key_fails(cli, appended, tmp_path):
    forged = signed_notes.sign_note(signed_notes.format_checkpoint("test.example/ledger", 7, bytes(32)), "test.example/ledger", b"\x05" * 32)
    (tmp_path / "forged.txt").write_text(forged)
    code, output = cli("checkpoint", "verify", str(tmp_path / "forged.txt"))
    assert code == 1 and "signature" in output


def test_equivocating_checkpoint_fails(cli, appended, signer, tmp_path):
    """Same size, another root, validly signed: the database does not produce that root."""
    text_ = signed_notes.format_checkpoint(signer.origin, 7, b"\x01" * 32)
    (tmp_path / "other.txt").write_text(signed_notes.sign_note(text_, signer.origin, signer.seed))
    code, output = cli("checkpoint", "verify", str(tmp_path / "other.txt"))
    assert code == 1 and "root" in output


def test_checkpoint_of_a_longer_log_than_the_database_fails(cli, appended, db, tmp_path):
    assert cli("checkpoint", "export", str(tmp_path / "cp.txt"))[0] == 0
    with without_triggers(db) as connection:
        connection.execute(text("DELETE FROM ledger_entries WHERE seq > 5"))
        connection.execute(text("UPDATE ledger_head SET seq = 5"))
    code, output = cli("checkpoint", "verify", str(tmp_path / "cp.txt"))
    assert code == 1 and "first bad seq 6" in output


def test_inclusion_proof_of_every_entry_verifies_against_the_checkpoint(appended, db, signer, clock):
    with appended.transaction() as tx:
        create_checkpoint(tx.session, signer, clock())
    with db.connect() as connection:
        (checkpoint,) = stored_checkpoints(connection)
        proofs = [inclusion_proof(connection, seq, checkpoint) for seq in range(1, 8)]
        with pytest.raises(merkle.ProofError):
            inclusion_proof(connection, 8, checkpoint)
    for proof in proofs:
        proof.verify()
    wrong = proofs[2].__class__(proofs[2].seq, proofs[2].size, bytes(32), proofs[2].path, proofs[2].root)
    with pytest.raises(merkle.ProofError):
        wrong.verify()


def test_export_directory_verifies_standalone_and_is_recorded(cli, appended, signer, db, tmp_path):
    code, output = cli("export", str(tmp_path / "audit"))
    assert code == 0, output
    # The 7 entries its final checkpoint covers; that checkpoint's own entry waits for the next export.
    assert (tmp_path / "audit" / "entries.jsonl").read_text().count("\n") == 7
    result = subprocess.run(
        [sys.executable, "-m", "verifier", ".", "--key", signer.verifier_key],
        cwd=tmp_path / "audit", capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    with db.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM entry_index WHERE kind = 'exported'")).scalar() == 8
    assert cli("verify")[0] == 0
    assert cli("export", str(tmp_path / "audit"))[0] == 2  # not empty any more


def _extend_and_checkpoint(ledger, signer, clock, count):
    with ledger.transaction() as tx:
        for number in range(count):
            tx.append("exported", number=number)
        return create_checkpoint(tx.session, signer, clock())


def _stored_hashes(db, size):
    with db.connect() as connection:
        statement = text("SELECT hash FROM ledger_entries WHERE seq <= :n ORDER BY seq")
        return [row[0] for row in connection.execute(statement, {"n": size})]


def _root_of_stored_hashes(db, size):
    return merkle.root_of_entries(_stored_hashes(db, size))


def test_next_checkpoint_extends_the_stored_frontier(appended, db, signer, clock):
    """The second checkpoint starts from the first one's frontier: a hash changed before it is not
    re-read (the new root stays that of the original entries), so the default verify still catches it."""
    first = _extend_and_checkpoint(appended, signer, clock, 0)
    assert merkle.CompactRange.from_frontier(first.size, first.frontier).root() == first.root
    original = _stored_hashes(db, 2)[1]
    with without_triggers(db) as connection:
        connection.execute(text("UPDATE ledger_entries SET hash = :h WHERE seq = 2"), {"h": bytes(32)})
    second = _extend_and_checkpoint(appended, signer, clock, 2)
    hashes = _stored_hashes(db, 10)
    assert second.root != merkle.root_of_entries(hashes)
    hashes[1] = original
    assert second.size == 10 and second.root == merkle.root_of_entries(hashes)


@pytest.mark.parametrize("frontier", [bytes(96), b"\x01" * 5])
def test_a_frontier_that_does_not_give_the_signed_root_is_ignored(appended, db, signer, clock, frontier):
    _extend_and_checkpoint(appended, signer, clock, 0)
    with without_triggers(db) as connection:
        connection.execute(text("UPDATE checkpoints SET frontier = :f"), {"f": frontier})
    second = _extend_and_checkpoint(appended, signer, clock, 3)
    assert second.root == _root_of_stored_hashes(db, second.size)


def test_a_frontier_under_another_signing_key_is_ignored(appended, db, signer, clock):
    from ledger.checkpoint_store import CheckpointSigner

    _extend_and_checkpoint(appended, CheckpointSigner(signer.origin, b"\x07" * 32), clock, 0)
    with without_triggers(db) as connection:
        connection.execute(text("UPDATE checkpoints SET frontier = :f"), {"f": bytes(96)})
    second = _extend_and_checkpoint(appended, signer, clock, 1)
    assert second.root == _root_of_stored_hashes(db, second.size)


def test_inclusion_proof_of_a_missing_entry_fails(appended, db, signer, clock):
    record = _extend_and_checkpoint(appended, signer, clock, 0)
    with without_triggers(db) as connection:
        connection.execute(text("DELETE FROM ledger_entries WHERE seq = 7"))
    with db.connect() as connection:
        with pytest.raises(merkle.ProofError):
            inclusion_proof(connection, 3, record)


def test_export_ends_with_a_checkpoint_that_covers_every_exported_entry(cli, appended, signer, clock, tmp_path, capsys):
    """Deleting the export's last line fails: no entry lies beyond the newest checkpoint."""
    from ledger.core.auditor_verifier import ENTRIES, main as verify_main

    with appended.transaction() as tx:  # an older checkpoint, whose own entry is seq 8
        create_checkpoint(tx.session, signer, clock())
    assert cli("export", str(tmp_path / "audit"))[0] == 0
    entries = tmp_path / "audit" / ENTRIES
    lines = entries.read_bytes().splitlines(keepends=True)
    assert len(lines) == 8  # 7 entries and the older checkpoint's entry; the export's own checkpoint covers them
    capsys.readouterr()
    assert verify_main([str(tmp_path / "audit"), "--key", signer.verifier_key]) == 0
    entries.write_bytes(b"".join(lines[:-1]))
    assert verify_main([str(tmp_path / "audit"), "--key", signer.verifier_key]) == 1
    assert "truncated log" in capsys.readouterr().out
