"""What the ledger's evidence says now: the head, the last full verify and the last checkpoint.

Small reads for the dashboard and operators; `verify` (ledger/integrity.py) writes `verify_state`
after each successful run and `checkpoint` (ledger/checkpoint_store.py) the checkpoints.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from ledger.entries import head
from ledger.models import CheckpointRecord, VerifyState


@dataclass(frozen=True)
class LastVerify:
    """The last successful verify: when, and the checkpoint size it vouched for up to then."""

    verified_at: str
    checkpoint_size: int


@dataclass(frozen=True)
class LastCheckpoint:
    """The newest signed checkpoint: its id, how many entries it covers, when, and its note."""

    id: int
    size: int
    created_at: str
    note: str


@dataclass(frozen=True)
class Evidence:
    """The chain's length and its last verify and checkpoint (None before the first)."""

    entries: int
    last_verify: LastVerify | None
    last_checkpoint: LastCheckpoint | None


def evidence(connection: Connection) -> Evidence:
    """The head's seq, the last successful verify and the newest checkpoint."""
    entries, _hash = head(connection)
    return Evidence(entries, last_verify(connection), last_checkpoint(connection))


def last_verify(connection: Connection) -> LastVerify | None:
    """When the last successful `verify` ran (verify_state), or None if none has."""
    row = connection.execute(select(VerifyState.verified_at, VerifyState.seq).where(VerifyState.id == 1)).first()
    return None if row is None else LastVerify(row.verified_at, row.seq)


def last_checkpoint(connection: Connection) -> LastCheckpoint | None:
    """The newest stored checkpoint (the largest, latest signed), or None before the first."""
    table = CheckpointRecord
    row = connection.execute(
        select(table.id, table.size, table.created_at, table.note).order_by(table.size.desc(), table.id.desc()).limit(1)
    ).first()
    return None if row is None else LastCheckpoint(row.id, row.size, row.created_at, row.note)
