"""Builders for chains, checkpoints and keys used across the ledger core tests."""
from __future__ import annotations

from ledger.core.canonical import GENESIS_HASH, canonical_bytes, entry_hash
from ledger.core.chain import Row
from ledger.core.merkle import root_of_entries
from ledger.core.signed_notes import sign_checkpoint, verifier_key

ORIGIN = "ledger.example/bookings"
SEED = bytes(range(32))
OTHER_SEED = bytes(range(1, 33))
VKEY = verifier_key(ORIGIN, SEED)
OTHER_VKEY = verifier_key(ORIGIN, OTHER_SEED)


def make_entry(seq: int, kind: str = "collected") -> dict:
    """A format-1 entry with the fields a real one carries (no personal data)."""
    return {
        "v": 1,
        "seq": seq,
        "time": f"2025-01-01T00:00:{seq % 60:02d}.{seq:06d}Z",
        "kind": kind,
        "subject": f"subj-{seq % 7:04x}",
        "refs": {"appointment": f"AAMk-{seq}"},
        "fields": ["email", "phone"],
    }


def chain_of(entries: list[dict], previous: bytes = GENESIS_HASH) -> list[Row]:
    """The rows (seq, canonical bytes, hash) of entries chained from `previous`."""
    rows = []
    for entry in entries:
        body = canonical_bytes(entry)
        previous = entry_hash(previous, body)
        rows.append((entry["seq"], body, previous))
    return rows


def build_rows(count: int) -> list[Row]:
    """A valid chain of `count` entries starting at seq 1."""
    return chain_of([make_entry(seq) for seq in range(1, count + 1)])


def checkpoint_for(rows: list[Row], size: int, seed: bytes = SEED) -> str:
    """A signed checkpoint over the first `size` rows."""
    return sign_checkpoint(ORIGIN, size, root_of_entries(row[2] for row in rows[:size]), seed)
