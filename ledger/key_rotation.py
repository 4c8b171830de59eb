"""Key material: generating fresh settings values, and re-wrapping the key store's data keys after a rotation.

Rotation procedure (docs/ledger.md): put the old LEDGER_MASTER_KEY into
LEDGER_PREVIOUS_MASTER_KEYS, set a fresh LEDGER_MASTER_KEY, run `bookings-ledger keys rotate`,
then drop the old key once it reports nothing left. Each batch commits in the key store on its
own, then its `key-rotated` entry commits in the main database, so a crash loses at most one
batch of work and a rerun continues where it stopped (keys already under the current master key
are skipped): the rotation is idempotent and restart-safe. The key store is the truth about
which key wraps what: a crash between the two commits can leave one batch without its entry,
never an entry claiming a re-wrap that did not happen.
"""
from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from config.settings import DEFAULT_CHECKPOINT_ORIGIN
from ledger.core import signed_notes
from ledger.entries import append_entry
from ledger.keystore import KeyStore

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


def rotate_master_key(engine: Engine, keystore: KeyStore, master_key_id: str, clock: Callable[[], datetime],
                      batch: int = REWRAP_BATCH) -> RotationReport:
    """Re-wrap every key-store data key held under a previous master key with the current one
    (`master_key_id`), recording each batch as a `key-rotated` entry in the ledger on `engine`."""
    sessions = sessionmaker(engine)
    rewrapped, entry_seqs = 0, []
    while True:
        moved = keystore.rewrap(batch)
        if moved:
            with sessions.begin() as session:
                details = {"master_key_id": master_key_id, "rewrapped": moved}
                entry_seqs.append(append_entry(session, "key-rotated", clock(), details).seq)
        rewrapped += moved
        if moved < batch:
            break
    return RotationReport(rewrapped, keystore.count_unknown(), entry_seqs)
