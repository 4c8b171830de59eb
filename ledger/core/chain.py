"""Streaming verification of the ledger's hash chain.

Each row is `(seq, body, stored_hash)` in sequence order; the chain holds when the sequence
numbers run on without a gap from `first_seq` and every stored hash equals
`SHA-256(previous hash || body)`. The first failure ends the walk: it is named by sequence
number and reason, and everything before it has been verified.

A row rewritten together with a recomputed hash of its own is consistent in itself, so the
break shows at the next seq (or nowhere, for the last row): the signed checkpoints catch that,
as they catch a log cut short at its end.

Pure: standard library and the sibling `canonical` module only (the auditor's verifier ships it).
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .canonical import GENESIS_HASH, parse_entry

Row = tuple[int, bytes, bytes]

# Why the chain broke, as named in ChainReport.reason.
WRONG_START = "wrong start"
GAP = "gap"
DUPLICATE = "duplicate"
INSERTED = "inserted"
REORDERED = "reordered"
BODY_MODIFIED = "modified body"
HASH_MODIFIED = "modified hash"
MODIFIED = "modified"


@dataclass(frozen=True)
class ChainReport:
    """The outcome of a chain walk: how far it verified and, if it broke, where and why."""

    count: int
    last_seq: int
    last_hash: bytes
    bad_seq: int | None = None
    reason: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        """True when every row verified."""
        return self.bad_seq is None

    def summary(self) -> str:
        """One line for a terminal or a log."""
        if self.ok:
            return f"intact: {self.count} entries, last seq {self.last_seq}, last hash {self.last_hash.hex()}"
        return f"broken at seq {self.bad_seq} ({self.reason}): {self.detail}"


def verify_chain(rows: Iterable[Row], *, previous_hash: bytes = GENESIS_HASH, first_seq: int = 1) -> ChainReport:
    """Walk the rows once and report the first bad sequence number, if any."""
    # The hot loop parses no JSON: the hash binds the body (including its own seq), and the
    # row's seq gives continuity. Diagnosis happens only after a failure, off this path.
    sha256 = hashlib.sha256
    expected = first_seq
    prev = previous_hash
    before = None  # the hash two rows back: tells an inserted row from a modified one
    iterator = iter(rows)
    for seq, body, stored in iterator:
        if seq != expected:
            return _broken(expected, first_seq, prev, *_out_of_sequence(seq, expected, first_seq, iterator))
        if sha256(prev + body).digest() != stored:
            if before is not None and sha256(before + body).digest() == stored:
                # This row chains onto the entry two back: the row just before it was slipped in.
                return _broken(seq - 1, first_seq, before, seq - 1, INSERTED, f"seq {seq - 1} was inserted")
            return _broken(expected, first_seq, prev, *_mismatch(seq, body, stored, prev, first_seq, iterator))
        before = prev
        prev = stored
        expected += 1
    return ChainReport(expected - first_seq, expected - 1, prev)


def _broken(next_seq: int, first_seq: int, last_hash: bytes, bad_seq: int, reason: str, detail: str) -> ChainReport:
    """A report whose rows before `next_seq` verified and which broke at `bad_seq`."""
    return ChainReport(next_seq - first_seq, next_seq - 1, last_hash, bad_seq, reason, detail)


def _out_of_sequence(seq: int, expected: int, first_seq: int, rest: Iterator[Row]) -> tuple[int, str, str]:
    if seq > expected:
        # Off the hot path: read on to tell a missing row from one moved further down (a swap).
        # Rows from the database come in seq order, so there this only ever confirms the gap.
        if any(later == expected for later, _body, _hash in rest):
            return expected, REORDERED, f"seq {expected} comes after seq {seq}: the entries are out of order"
        if expected == first_seq:
            return expected, WRONG_START, f"the log starts at seq {seq}, not {first_seq}"
        return expected, GAP, f"seq {expected} is missing (the next row is seq {seq})"
    if expected == first_seq:
        return seq, WRONG_START, f"the log starts at seq {seq}, not {first_seq}"
    return seq, DUPLICATE, f"seq {seq} appears again after seq {expected - 1}"


def _mismatch(seq: int, body: bytes, stored: bytes, prev: bytes, first_seq: int, rest: Iterator[Row]) -> tuple[int, str, str]:
    if seq == first_seq and prev != GENESIS_HASH:
        return seq, WRONG_START, f"seq {seq} does not chain from the given previous hash"
    claimed = _claimed_seq(body)
    if claimed is not None and claimed != seq:
        return seq, REORDERED, f"row {seq} holds the entry of seq {claimed}"
    # The next row tells which half of this row changed: it chains from the original hash.
    after = next(rest, None)
    if after is not None and after[0] == seq + 1:
        if hashlib.sha256(stored + after[1]).digest() == after[2]:
            return seq, BODY_MODIFIED, f"the body of seq {seq} no longer matches its hash"
        if hashlib.sha256(hashlib.sha256(prev + body).digest() + after[1]).digest() == after[2]:
            return seq, HASH_MODIFIED, f"the stored hash of seq {seq} was changed"
    return seq, MODIFIED, f"seq {seq} does not chain from seq {seq - 1}"


def _claimed_seq(body: bytes) -> int | None:
    try:
        seq = parse_entry(body).get("seq")
    except ValueError:  # CanonicalError, or a lone surrogate that cannot be re-encoded
        return None
    return seq if isinstance(seq, int) else None
