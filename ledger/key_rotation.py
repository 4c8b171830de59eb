"""Key material: generating fresh settings values, and re-wrapping data keys after a rotation.

Rotation procedure (docs/ledger.md): put the old LEDGER_MASTER_KEY into
LEDGER_PREVIOUS_MASTER_KEYS, set a fresh LEDGER_MASTER_KEY, run `bookings-ledger keys rotate`,
then drop the old key once it reports nothing left. Each batch commits on its own, so a crash
loses at most one batch of work and a rerun continues where it stopped (keys already under the
current master key are skipped): the rotation is idempotent and restart-safe.
"""
from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from config.settings import DEFAULT_CHECKPOINT_ORIGIN
from ledger import encryption
from ledger.core import signed_notes
from ledger.entries import append_entry
from ledger.models import DataKey

REWRAP_BATCH = 500  # data keys per transaction: short write locks, bounded work lost on a crash


@dataclass(frozen=True)
class RotationReport:
    """What one run did: data keys re-wrapped, keys left under unconfigured master keys, entries."""

    rewrapped: int
    unknown: int
    entry_seqs: list[int]


def generate_settings_keys(checkpoint_origin: str = DEFAULT_CHECKPOINT_ORIGIN) -> dict[str, str]:
    """Fresh values for every key setting, ready to paste into the environment."""
    def random_b64() -> str:
        return base64.b64encode(os.urandom(32)).decode()

    seed = os.urandom(32)  # an Ed25519 private key is any 32-byte seed
    return {
        "LEDGER_MASTER_KEY": random_b64(),
        "BLIND_INDEX_KEY": random_b64(),
        "CHECKPOINT_SIGNING_KEY": base64.b64encode(seed).decode(),
        # The public half, for every host that verifies: they never need the signing key.
        "CHECKPOINT_VERIFIER_KEY": signed_notes.verifier_key(checkpoint_origin, seed),
        "SECRET_KEY": secrets.token_urlsafe(48),
    }


def rotate_master_key(engine: Engine, master: encryption.MasterKeys, clock: Callable[[], datetime], batch: int = REWRAP_BATCH) -> RotationReport:
    """Re-wrap every data key held under a previous master key with the current one."""
    sessions = sessionmaker(engine)
    old_ids = [key_id for key_id in master.by_id if key_id != master.current_id]
    rewrapped, entry_seqs = 0, []
    while True:
        # Each batch and its `key-rotated` entry commit together: the ledger never claims a
        # re-wrap that a crash undid, nor misses one that committed.
        with sessions.begin() as session:
            moved = _rewrap_batch(session, master, old_ids, batch)
            if moved:
                details = {"master_key_id": master.current_id, "rewrapped": moved}
                entry_seqs.append(append_entry(session, "key-rotated", clock(), details).seq)
        rewrapped += moved
        if moved < batch:
            break
    with sessions.begin() as session:
        unknown = session.scalar(select(func.count()).select_from(DataKey).where(DataKey.master_key_id.not_in(master.by_id)))
    return RotationReport(rewrapped, unknown or 0, entry_seqs)


def _rewrap_batch(session: Session, master: encryption.MasterKeys, old_ids: list[str], batch: int) -> int:
    rows = session.scalars(select(DataKey).where(DataKey.master_key_id.in_(old_ids)).limit(batch)).all()
    for row in rows:
        data_key = encryption.unwrap_data_key(master.get(row.master_key_id), row.wrapped_key, row.subject_ref)
        row.wrapped_key = encryption.wrap_data_key(master.current, data_key, row.subject_ref)
        row.master_key_id = master.current_id
    return len(rows)
