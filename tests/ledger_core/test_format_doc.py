"""docs/ledger-format.md's worked examples are what the code computes."""
from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from ledger.core.canonical import FORMAT_VERSION, FORMAT_VERSIONS, GENESIS_HASH, CanonicalError, canonical_bytes, entry_hash
from ledger.core.export_records import format_record
from ledger.core.merkle import consistency_proof, inclusion_proof, leaf_hash, node_hash, root_of_entries
from ledger.core.signed_notes import sign_checkpoint, verifier_key

DOC = (Path(__file__).parents[2] / "docs" / "ledger-format.md").read_text(encoding="utf-8")
ORIGIN = "bookings-ledger.example/ledger"
SUBJECT = "sr_5f0c9a2e41d7b3a8"
ENTRIES = [
    {
        "v": 1, "seq": 1, "time": "2025-03-01T09:30:00.000000Z", "kind": "collected",
        "subject": SUBJECT, "refs": {"appointment": "AAMkADc3"},
        "fields": ["customerEmailAddress", "customerName"],
        "details": {"category": "booking", "notice": "2024-06", "room": 'Salle "Café"\t2'},
    },
    {"v": 1, "seq": 2, "time": "2025-03-01T09:31:12.250000Z", "kind": "erased", "subject": SUBJECT, "refs": {}},
    {"v": 1, "seq": 3, "time": "2025-03-01T09:31:12.250001Z", "kind": "key-destroyed", "subject": SUBJECT},
]


def test_the_documented_examples_match_the_code() -> None:
    """Canonical bytes, hashes, Merkle values, proofs, key and note in the doc are all current."""
    expected, previous, hashes = [], GENESIS_HASH, []
    for entry in ENTRIES:
        body = canonical_bytes(entry)
        previous = entry_hash(previous, body)
        hashes.append(previous)
        expected += [body.decode(), previous.hex()]
    expected.append(canonical_bytes(ENTRIES[0]).hex())
    leaves = [leaf_hash(value) for value in hashes]
    root = root_of_entries(hashes)
    expected += [leaf.hex() for leaf in leaves] + [node_hash(leaves[0], leaves[1]).hex(), root.hex()]
    assert inclusion_proof(0, 3, leaves) == leaves[1:] and consistency_proof(2, 3, leaves) == leaves[2:]
    seed = bytes(range(32))
    expected += [verifier_key(ORIGIN, seed), sign_checkpoint(ORIGIN, 3, root, seed), base64.b64encode(root).decode()]
    expected.append(format_record(2, canonical_bytes(ENTRIES[1]), hashes[1]).decode().rstrip("\n"))
    for value in expected:
        assert value in DOC, value
    assert f"{len(canonical_bytes(ENTRIES[0]))} bytes" in DOC


def _format2_example() -> dict:
    """The format 2 entry as the document shows it (parsed from the page, so it cannot drift)."""
    shown = re.search(r"A format 2 `collected` entry, as the service writes it:\n\n```json\n(.*?)```", DOC, re.S)
    assert shown is not None, "the format 2 example is missing"
    return json.loads(shown.group(1))


def test_the_documented_format_2_example_matches_the_code() -> None:
    """Its canonical bytes, length and first hash in the doc are what the code computes, and it
    holds no member format 2 forbids."""
    entry = _format2_example()
    body = canonical_bytes(entry)
    assert entry["v"] == FORMAT_VERSION == 2
    for value in (body.decode(), f"{len(body)} bytes", entry_hash(GENESIS_HASH, body).hex()):
        assert value in DOC, value
    assert "retention_until" not in body.decode() and "content_digest" not in body.decode()


@pytest.mark.parametrize("version", [0, 3, True, "2", None])
def test_only_the_accepted_format_versions_have_a_canonical_form(version: object) -> None:
    """Formats 1 and 2 encode; any other `v` (a bool, a string, a later number) is refused."""
    assert set(FORMAT_VERSIONS) == {1, 2}
    for accepted in FORMAT_VERSIONS:
        canonical_bytes({**ENTRIES[1], "v": accepted})
    with pytest.raises(CanonicalError):
        canonical_bytes({**ENTRIES[1], "v": version})
