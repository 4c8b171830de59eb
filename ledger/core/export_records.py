"""The lines of an export's entries.jsonl: written in one exact form, and read back refusing any other.

A line is exactly the bytes

    {"seq":<seq>,"hash":"<64 lowercase hex digits>","entry":<the entry's canonical bytes>}\\n

so every entry has one and only one line that represents it. Reading refuses, naming why: a line
without its final newline, JSON that is not one object, a duplicate key at any depth, members
other than these three, a seq that is not an integer, a hash that is not lowercase hex, an entry
that has no canonical form (docs/ledger-format.md §2) or whose own `seq` is another row's, and
any other bytes than the exact form above (white space, key order, escapes).

Pure: standard library and the sibling `canonical` module only (the auditor's verifier ships it).
"""
from __future__ import annotations

import re

from .canonical import CanonicalError, canonical_bytes, loads_strict

Row = tuple[int, bytes, bytes]
HEX_HASH = re.compile(r"[0-9a-f]{64}")
MEMBERS = ("seq", "hash", "entry")

# Why a line was refused, as named by RecordError.reason.
MALFORMED_LINE = "malformed line"
MOVED_ENTRY = "reordered"


class RecordError(ValueError):
    """A line of entries.jsonl that is not an entry record in its one exact form."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def format_record(seq: int, body: bytes, entry_hash: bytes) -> bytes:
    """The one line (with its newline) that holds entry `seq` with these canonical bytes and hash."""
    return b'{"seq":%d,"hash":"%s","entry":%s}\n' % (seq, entry_hash.hex().encode(), body)


def parse_record(line: bytes) -> Row:
    """(seq, canonical bytes, hash) of one line; RecordError if it is not exactly a record."""
    if not line.endswith(b"\n"):
        raise RecordError(MALFORMED_LINE, "the line does not end with a newline")
    try:
        record = loads_strict(line)
    except CanonicalError as exc:
        raise RecordError(MALFORMED_LINE, str(exc)) from None
    if not isinstance(record, dict) or sorted(record) != sorted(MEMBERS):
        raise RecordError(MALFORMED_LINE, "a record is an object of exactly seq, hash and entry")
    seq, digest, entry = record["seq"], record["hash"], record["entry"]
    if type(seq) is not int:
        raise RecordError(MALFORMED_LINE, "member seq must be an integer")
    if not isinstance(digest, str) or not HEX_HASH.fullmatch(digest):
        raise RecordError(MALFORMED_LINE, "member hash must be 64 lowercase hex digits")
    if not isinstance(entry, dict):
        raise RecordError(MALFORMED_LINE, "member entry must be an object")
    try:
        body = canonical_bytes(entry)
    except CanonicalError as exc:
        raise RecordError(MALFORMED_LINE, f"the entry has no canonical form: {exc}") from None
    if entry["seq"] != seq:
        raise RecordError(MOVED_ENTRY, f"the line of seq {seq} holds the entry of seq {entry['seq']}")
    stored = bytes.fromhex(digest)
    if format_record(seq, body, stored) != line:
        raise RecordError(MALFORMED_LINE, "the line is not in canonical form (white space, member order or escapes)")
    return seq, body, stored
