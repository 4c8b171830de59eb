"""Signed checkpoints on the database side: create, store, write out, check, prove inclusion.

(The pure `checkpoints.py` beside it audits notes for the standalone verifier; this module is
its counterpart that reads the database.)

A checkpoint is the RFC 6962 Merkle root of the first `size` entry hashes, signed with Ed25519 as
a C2SP tlog-checkpoint note (`ledger/core/signed_notes.py`) under the key name CHECKPOINT_ORIGIN. It is
stored in `checkpoints`, written to CHECKPOINT_DIR (somewhere the database admin cannot
rewrite), and recorded by a `checkpoint` entry appended right after the entries it covers.
"""
from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, Row, select
from sqlalchemy.orm import Session

from config import SettingsError
from ledger.chain_segments import Parallelism, Segment, walk
from ledger.core import merkle, signed_notes
from database.files import make_private_directory
from ledger.core.canonical import GENESIS_HASH
from database.times import format_time
from ledger.entries import append_entry, head, lock_head, stored_hash, stream_hashes
from ledger.models import CheckpointRecord


class CheckpointMismatch(Exception):
    """A checkpoint does not match the ledger; `bad_seq` is the first entry it cannot vouch for."""

    def __init__(self, message: str, *, bad_seq: int | None = None) -> None:
        super().__init__(message)
        self.bad_seq = bad_seq


@dataclass(frozen=True)
class CheckpointSigner:
    """The Ed25519 seed and key name (the checkpoint origin) that sign checkpoints."""

    origin: str
    seed: bytes

    @classmethod
    def from_settings(cls, settings: object) -> CheckpointSigner:
        """The signer from CHECKPOINT_ORIGIN and CHECKPOINT_SIGNING_KEY (SettingsError if missing)."""
        return cls(settings.CHECKPOINT_ORIGIN, settings.key("CHECKPOINT_SIGNING_KEY"))  # type: ignore[attr-defined]

    @property
    def verifier_key(self) -> str:
        """The public verifier key string an auditor needs."""
        return signed_notes.verifier_key(self.origin, self.seed)


def verifier_key_from_settings(settings: object) -> str:
    """CHECKPOINT_VERIFIER_KEY, checked: the public key every verifier trusts (SettingsError if missing or malformed)."""
    vkey = settings.require("CHECKPOINT_VERIFIER_KEY")  # type: ignore[attr-defined]
    try:
        signed_notes.parse_verifier_key(vkey)
    except signed_notes.NoteError as exc:
        raise SettingsError(f"setting CHECKPOINT_VERIFIER_KEY: {exc} (bookings-ledger keys generate prints one)") from None
    return vkey


@dataclass(frozen=True)
class InclusionProof:
    """Proof that entry `seq` is leaf seq-1 of the checkpointed tree of `size` entries."""

    seq: int
    size: int
    entry_hash: bytes
    path: list[bytes]
    root: bytes

    def verify(self) -> None:
        """Raise merkle.ProofError unless the proof holds."""
        merkle.verify_inclusion(self.seq - 1, self.size, merkle.leaf_hash(self.entry_hash), self.path, self.root)


def create_checkpoint(session: Session, signer: CheckpointSigner, time: datetime) -> CheckpointRecord:
    """Sign the ledger as it stands, store the note and append its `checkpoint` entry."""
    # The head lock keeps the size still between reading the hashes and appending the entry.
    size = lock_head(session).seq
    tree = _tree_at(session.connection(), size, signer.verifier_key)
    root = tree.root()
    note = signed_notes.sign_note(signed_notes.format_checkpoint(signer.origin, size, root), signer.origin, signer.seed)
    record = CheckpointRecord(size=size, root=root, note=note, created_at=format_time(time), frontier=tree.frontier)
    session.add(record)
    session.flush()
    append_entry(session, "checkpoint", time, {"size": size, "root": root.hex(), "checkpoint_id": record.id})
    return record


def _tree_at(connection: Connection, size: int, verifier_key: str) -> merkle.CompactRange:
    """The Merkle range of the first `size` entries: the last checkpoint's, extended by the entries since."""
    tree = _trusted_frontier(connection, size, verifier_key)
    with closing(stream_hashes(connection, size, after=tree.size)) as entry_hashes:
        for entry_hash in entry_hashes:
            tree.append(merkle.leaf_hash(entry_hash))
    return tree


def _trusted_frontier(connection: Connection, size: int, verifier_key: str) -> merkle.CompactRange:
    """The stored range of the largest checkpoint up to `size`, if it produces that checkpoint's signed root."""
    table = CheckpointRecord
    statement = select(table.size, table.note, table.frontier).where(table.size <= size, table.frontier.is_not(None))
    row = connection.execute(statement.order_by(table.size.desc(), table.id.desc()).limit(1)).first()
    if row is None:
        return merkle.CompactRange()
    # A frontier is only a cache: one that was changed, or whose note no longer checks (another
    # signing key), is ignored and the root is computed from every entry hash, as verify would.
    try:
        signed = check_note(row.note, verifier_key)
        tree = merkle.CompactRange.from_frontier(row.size, row.frontier)
    except (CheckpointMismatch, ValueError):
        return merkle.CompactRange()
    return tree if (signed.size, signed.root) == (tree.size, tree.root()) else merkle.CompactRange()


def write_checkpoint_file(record: CheckpointRecord, directory: Path) -> Path:
    """Write the note to `directory`, named by size and id so files never overwrite each other."""
    make_private_directory(directory)  # var/ is 0700 whichever command creates it first
    path = directory / checkpoint_file_name(record.size, record.id)
    path.write_text(record.note, encoding="utf-8")
    return path


def checkpoint_file_name(size: int, checkpoint_id: int) -> str:
    """The file name of a checkpoint's note: by size, then id, so names sort as the checkpoints grow."""
    return f"checkpoint-{size:012d}-{checkpoint_id}.txt"


def publish_checkpoint(engine: Engine, signer: CheckpointSigner, time: datetime, directory: Path) -> CheckpointRecord:
    """Sign a checkpoint of the ledger as it stands, store it, and write its note to `directory`."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        record = create_checkpoint(session, signer, time)
    write_checkpoint_file(record, directory)
    return record


def stored_checkpoints(connection: Connection, after_id: int = 0) -> list[Row]:
    """(id, size, root, note) of the stored checkpoints with id > after_id, smallest size first."""
    table = CheckpointRecord
    statement = select(table.id, table.size, table.root, table.note).where(table.id > after_id)
    return list(connection.execute(statement.order_by(table.size, table.id)))


def check_note(note: str, verifier_key: str, *, origin: str | None = None) -> signed_notes.Checkpoint:
    """Verify a note's signature (and origin, when given); CheckpointMismatch if it fails."""
    try:
        checkpoint = signed_notes.verify_checkpoint(note, verifier_key)
    except signed_notes.NoteError as exc:
        raise CheckpointMismatch(f"checkpoint signature: {exc}") from None
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointMismatch(f"checkpoint origin {checkpoint.origin!r} is not {origin!r}")
    return checkpoint


def check_against_ledger(
    connection: Connection, note: str, verifier_key: str, parallelism: Parallelism | None = None
) -> signed_notes.Checkpoint:
    """Check a signed checkpoint note against the entries in the database, re-hashed from their bodies."""
    checkpoint = check_note(note, verifier_key)
    size, _hash = head(connection)
    if checkpoint.size > size:
        raise CheckpointMismatch(
            f"checkpoint covers {checkpoint.size} entries but the ledger has {size}", bad_seq=size + 1
        )
    # The leaves are the stored hashes only after the chain walk has recomputed each one from its
    # body: a body changed behind the triggers with its stored hash kept must not pass.
    segment = Segment(0, GENESIS_HASH, merkle.CompactRange(), checkpoint.size, frozenset(), upto=checkpoint.size)
    walked = walk(connection, segment, parallelism or Parallelism())
    if not walked.report.ok:
        raise CheckpointMismatch(f"the ledger's chain {walked.report.summary()}", bad_seq=walked.report.bad_seq)
    if walked.report.last_seq != checkpoint.size:
        missing = walked.report.last_seq + 1
        raise CheckpointMismatch(f"entry {missing} of the checkpoint's {checkpoint.size} is missing", bad_seq=missing)
    if walked.tree.root() != checkpoint.root:
        raise CheckpointMismatch(f"checkpoint of size {checkpoint.size} has a root the ledger does not produce")
    return checkpoint


def inclusion_proof(connection: Connection, seq: int, checkpoint: CheckpointRecord | Row) -> InclusionProof:
    """The inclusion proof of entry `seq` in a stored checkpoint (the hashes stream: flat memory)."""
    if not 1 <= seq <= checkpoint.size:
        raise merkle.ProofError(f"entry {seq} is not covered by the checkpoint of size {checkpoint.size}")
    with closing(stream_hashes(connection, checkpoint.size)) as entry_hashes:
        path = merkle.inclusion_proof(seq - 1, checkpoint.size, map(merkle.leaf_hash, entry_hashes))
    return InclusionProof(seq, checkpoint.size, stored_hash(connection, seq) or b"", path, checkpoint.root)
