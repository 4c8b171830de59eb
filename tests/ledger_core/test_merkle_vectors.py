"""RFC 6962 known-answer vectors (transparency-dev/merkle testdata, tests/data/rfc6962)."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from ledger.core.merkle import (
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_of_leaves,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).parent.parent / "data" / "rfc6962"
# The leaf inputs of the reference tree the vectors were computed over (RFC 6962 test data).
REFERENCE_LEAVES = [bytes.fromhex(data) for data in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f",
)]


def _load(kind: str) -> list[tuple[str, dict]]:
    paths = sorted((VECTORS / kind).rglob("*.json"))
    assert paths, f"no {kind} vectors under {VECTORS}"
    return [(str(path.relative_to(VECTORS)), json.loads(path.read_text())) for path in paths]


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _proof(vector: dict) -> list[bytes]:
    return [_b64(item) for item in vector["proof"] or []]


def _accepts(check, *args) -> bool:  # noqa: ANN001 - a verify function
    try:
        check(*args)
    except ProofError:
        return False
    return True


@pytest.mark.parametrize(("name", "vector"), _load("inclusion"), ids=lambda value: value if isinstance(value, str) else "")
def test_inclusion_vector(name: str, vector: dict) -> None:
    """Every happy path verifies and every mutated inclusion proof is rejected."""
    accepted = _accepts(
        verify_inclusion, vector["leafIdx"], vector["treeSize"], _b64(vector["leafHash"]), _proof(vector), _b64(vector["root"])
    )
    assert accepted is not vector["wantErr"], vector["desc"]


@pytest.mark.parametrize(("name", "vector"), _load("consistency"), ids=lambda value: value if isinstance(value, str) else "")
def test_consistency_vector(name: str, vector: dict) -> None:
    """Every happy path verifies and every mutated consistency proof is rejected."""
    accepted = _accepts(
        verify_consistency, vector["size1"], vector["size2"], _proof(vector), _b64(vector["root1"]), _b64(vector["root2"])
    )
    assert accepted is not vector["wantErr"], vector["desc"]



def _reference_vectors(kind: str) -> list[dict]:
    # The numbered directories hold proofs over the reference tree; "additional" and
    # "single-entry" hold edge cases with arbitrary roots.
    return [vector for name, vector in _load(kind) if name.split("/")[1].isdigit() and not vector["wantErr"]]


def test_roots_match_the_reference_tree() -> None:
    """The streamed root of the first n reference leaves equals every root the vectors state."""
    leaves = [leaf_hash(data) for data in REFERENCE_LEAVES]
    roots = {vector["treeSize"]: vector["root"] for vector in _reference_vectors("inclusion")}
    for vector in _reference_vectors("consistency"):
        roots[vector["size1"]], roots[vector["size2"]] = vector["root1"], vector["root2"]
    assert len(roots) >= 5
    for size, root in roots.items():
        assert root_of_leaves(leaves[:size]) == _b64(root), size


def test_generated_proofs_equal_the_reference_proofs() -> None:
    """Our proof generation reproduces the vectors' happy-path proofs byte for byte."""
    leaves = [leaf_hash(data) for data in REFERENCE_LEAVES]
    for vector in _reference_vectors("inclusion"):
        assert inclusion_proof(vector["leafIdx"], vector["treeSize"], leaves) == _proof(vector)
    for vector in _reference_vectors("consistency"):
        assert consistency_proof(vector["size1"], vector["size2"], leaves) == _proof(vector)
