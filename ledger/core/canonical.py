"""The versioned canonical encoding of ledger entries (formats 1 and 2), the members every version
requires, and the chain hash.

An entry is a JSON object. Its canonical bytes are the RFC 8785 (JCS) serialisation of that
object restricted to what JCS and Python agree on byte for byte: object keys are ASCII, numbers
are integers, no NaN. Keys are sorted, there is no insignificant white space, and strings are
UTF-8 with only `"`, `\\` and control characters escaped. `docs/ledger-format.md` specifies it
for verifiers written in other languages.

Formats 1 and 2 encode bytes the same way; format 2 is the promise about members that
`docs/ledger-format.md` §1 states: no member holds a value a person's data determines (format 1
`collected`/`updated` entries carried `retention_until` and `content_digest`). New entries are
written in `FORMAT_VERSION`; entries of every version in `FORMAT_VERSIONS` keep verifying.

    entry_hash = SHA-256(previous entry_hash || canonical bytes)      (32 zero bytes before seq 1)

Pure: standard library only, so the auditor's verifier can ship without the service.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

FORMAT_VERSION = 2  # the version this code writes
GENESIS_HASH = bytes(32)
TIME_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")  # database/times.py's format
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def _is_int(value: Any) -> bool:
    return type(value) is int  # bool is an int subclass: `true` is not a number here


def _is_time(value: Any) -> bool:
    if not isinstance(value, str) or not TIME_PATTERN.fullmatch(value):
        return False
    try:
        datetime.strptime(value, TIME_FORMAT)  # a real date: no month 13, no 30 February
    except ValueError:
        return False
    return True


# What each required member must be, in every format version; docs/ledger-format.md §1.
MEMBER_RULES: Mapping[str, tuple[str, Callable[[Any], bool]]] = {
    "v": ("a known format version", lambda value: _is_int(value) and value in FORMAT_VERSIONS),
    "seq": ("an integer >= 1", lambda value: _is_int(value) and value >= 1),
    "time": ("a UTC time YYYY-MM-DDTHH:MM:SS.ffffffZ", _is_time),
    "kind": ("a non-empty string", lambda value: isinstance(value, str) and value != ""),
}
# Every entry format version a verifier accepts, with the members it requires. A version joins
# this table when it keeps the encoding below (it may change the members an entry carries).
FORMAT_VERSIONS: Mapping[int, tuple[str, ...]] = {
    1: ("v", "seq", "time", "kind"),
    2: ("v", "seq", "time", "kind"),
}


class CanonicalError(ValueError):
    """The entry cannot be encoded canonically (a float, a non-ASCII key, a missing field)."""


def canonical_bytes(entry: dict[str, Any]) -> bytes:
    """The canonical bytes of an entry object; raises CanonicalError on what its format version forbids."""
    check_members(entry)
    return canonical_json(entry)


def canonical_json(value: Any) -> bytes:
    """The canonical bytes of any JSON value under the same rules as an entry (a certificate's body)."""
    _check(value)
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: valid in a Python str, not in UTF-8
        raise CanonicalError("strings must be valid Unicode (no lone surrogates)") from None


def check_members(entry: dict[str, Any]) -> None:
    """Raise CanonicalError unless the entry's format version is known and its required members are well typed."""
    version = entry.get("v")
    if not _is_int(version) or version not in FORMAT_VERSIONS:
        raise CanonicalError(f"member v must be one of the format versions {sorted(FORMAT_VERSIONS)}")
    missing = [key for key in FORMAT_VERSIONS[version] if key not in entry]
    if missing:
        raise CanonicalError(f"entry lacks {', '.join(missing)}")
    for key in FORMAT_VERSIONS[version]:
        meaning, rule = MEMBER_RULES[key]
        if not rule(entry[key]):
            raise CanonicalError(f"member {key} must be {meaning}")


def loads_strict(text: bytes | str) -> Any:
    """json.loads that refuses duplicate object keys at any depth (CanonicalError)."""
    try:
        return json.loads(text, object_pairs_hook=_without_duplicates)
    except CanonicalError:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise CanonicalError(f"not JSON: {exc}") from None


def parse_entry(body: bytes) -> dict[str, Any]:
    """Decode canonical bytes; raises CanonicalError if they are not canonical."""
    entry = loads_strict(body)
    if not isinstance(entry, dict) or canonical_bytes(entry) != body:
        raise CanonicalError("not in canonical form")
    return entry


def entry_hash(previous: bytes, body: bytes) -> bytes:
    """SHA-256 over the previous entry's hash and this entry's canonical bytes."""
    return hashlib.sha256(previous + body).digest()


def _without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys: `{"kind":"erased","kind":"collected"}` would
    # hash as one thing and read (to grep, or another parser) as another.
    keys = [key for key, _value in pairs]
    if len(set(keys)) != len(keys):
        duplicate = next(key for key in keys if keys.count(key) > 1)
        raise CanonicalError(f"duplicate key {duplicate!r}")
    return dict(pairs)


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
