"""The versioned canonical encoding of ledger entries (formats 1 and 2), and the chain hash.

An entry is a JSON object. Its canonical bytes are the RFC 8785 (JCS) serialisation of that
object restricted to what JCS and Python agree on byte for byte: object keys are ASCII, numbers
are integers, no NaN. Keys are sorted, there is no insignificant white space, and strings are
UTF-8 with only `"`, `\\` and control characters escaped. `docs/ledger-format.md` specifies it
for verifiers written in other languages.

Formats 1 and 2 encode bytes the same way; format 2 is the promise about members that
`docs/ledger-format.md` §1 states: no member holds a value a person's data determines (format 1
`collected`/`updated` entries carried `retention_until` and `content_digest`). New entries are
written in `FORMAT_VERSION`; entries of every version in `ACCEPTED_VERSIONS` keep verifying.

    entry_hash = SHA-256(previous entry_hash || canonical bytes)      (32 zero bytes before seq 1)

Pure: standard library only, so the auditor's verifier can ship without the service.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

FORMAT_VERSION = 2
ACCEPTED_VERSIONS = frozenset({1, 2})
GENESIS_HASH = bytes(32)
REQUIRED_KEYS = ("v", "seq", "time", "kind")


class CanonicalError(ValueError):
    """The entry cannot be encoded canonically (a float, a non-ASCII key, a missing field)."""


def canonical_bytes(entry: dict[str, Any]) -> bytes:
    """The canonical bytes of an entry object; raises CanonicalError on what the format forbids."""
    missing = [key for key in REQUIRED_KEYS if key not in entry]
    if missing:
        raise CanonicalError(f"entry lacks {', '.join(missing)}")
    # bool is an int in Python: `True` must not pass as format 1.
    if isinstance(entry["v"], bool) or entry["v"] not in ACCEPTED_VERSIONS:
        raise CanonicalError(f"unknown format version {entry['v']!r}")
    _check(entry)
    text = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: valid in a Python str, not in UTF-8
        raise CanonicalError("strings must be valid Unicode (no lone surrogates)") from None


def parse_entry(body: bytes) -> dict[str, Any]:
    """Decode canonical bytes; raises CanonicalError if they are not canonical."""
    try:
        entry = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CanonicalError(f"not JSON: {exc}") from None
    if not isinstance(entry, dict) or canonical_bytes(entry) != body:
        raise CanonicalError("not in canonical form")
    return entry


def entry_hash(previous: bytes, body: bytes) -> bytes:
    """SHA-256 over the previous entry's hash and this entry's canonical bytes."""
    return hashlib.sha256(previous + body).digest()


def _check(value: Any) -> None:
    # JCS sorts keys by UTF-16 code units and writes numbers the ECMAScript way; keeping keys
    # ASCII and numbers integral makes Python's sorted json.dumps produce exactly those bytes.
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not key.isascii():
                raise CanonicalError(f"object key {key!r} is not an ASCII string")
            _check(item)
    elif isinstance(value, list):
        for item in value:
            _check(item)
    elif isinstance(value, float):
        raise CanonicalError("numbers must be integers")
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53 - 1:
        raise CanonicalError("integers must fit in 53 bits (IEEE 754 doubles)")
    elif value is not None and not isinstance(value, (str, int, bool)):
        raise CanonicalError(f"cannot encode {type(value).__name__}")
