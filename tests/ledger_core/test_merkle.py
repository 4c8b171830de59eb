"""Merkle roots, inclusion and consistency proofs over generated trees."""
from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core.merkle import (
    EMPTY_ROOT,
    CompactRange,
    ProofError,
    consistency_proof,
    inclusion_proof,
    inclusion_proofs,
    leaf_hash,
    node_hash,
    root_of_leaves,
    verify_consistency,
    verify_inclusion,
)


def _reference_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1's recursive definition, straight from the text."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(_reference_root(leaves[:k]), _reference_root(leaves[k:]))


def _leaves(count: int) -> list[bytes]:
    return [leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(count)]


@given(count=st.integers(0, 70))
def test_streamed_root_equals_the_recursive_definition(count: int) -> None:
    """The compact range computes the same root as RFC 6962's recursion."""
    assert root_of_leaves(_leaves(count)) == _reference_root(_leaves(count))


@given(count=st.integers(0, 70), split=st.integers(0, 70))
def test_a_compact_range_resumes_from_its_peaks(count: int, split: int) -> None:
    """Saving size and peaks, then appending the rest, gives the same root."""
    leaves, split = _leaves(count), min(split, count)
    first = CompactRange()
    for leaf in leaves[:split]:
        first.append(leaf)
    resumed = CompactRange(first.size, first.peaks)
    for leaf in leaves[split:]:
        resumed.append(leaf)
    assert resumed.root() == _reference_root(leaves)


@settings(max_examples=60)
@given(count=st.integers(1, 40), data=st.data())
def test_generated_proofs_verify_and_wrong_ones_do_not(count: int, data: st.DataObject) -> None:
    """Inclusion and consistency proofs verify; another leaf or root does not."""
    leaves = _leaves(count)
    index = data.draw(st.integers(0, count - 1), label="index")
    size1 = data.draw(st.integers(1, count), label="size1")
    root, old_root = root_of_leaves(leaves), root_of_leaves(leaves[:size1])
    verify_inclusion(index, count, leaves[index], inclusion_proof(index, count, leaves), root)
    verify_consistency(size1, count, consistency_proof(size1, count, leaves), old_root, root)
    with pytest.raises(ProofError):
        verify_inclusion(index, count, leaf_hash(b"forged"), inclusion_proof(index, count, leaves), root)
    if size1 < count:
        with pytest.raises(ProofError):
            verify_consistency(size1, count, consistency_proof(size1, count, leaves), old_root, leaves[0])


def test_compact_range_refuses_peaks_that_do_not_fit_the_size() -> None:
    """A size and a list of subtree roots must agree (one root per set bit)."""
    with pytest.raises(ValueError):
        CompactRange(3, [bytes(32)])


@settings(max_examples=60, deadline=None)
@given(size=st.integers(min_value=1, max_value=300), data=st.data())
def test_many_inclusion_proofs_at_once_are_the_single_proofs(size: int, data: st.DataObject) -> None:
    """`inclusion_proofs` (one pass, shared subtrees: certificates) gives each leaf the path `inclusion_proof` gives."""
    leaves = [leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(size)]
    indexes = data.draw(st.lists(st.integers(min_value=0, max_value=size - 1), min_size=1, max_size=12))
    paths = inclusion_proofs(indexes, size, leaves)
    assert sorted(paths) == sorted(set(indexes))
    for index, path in paths.items():
        assert path == inclusion_proof(index, size, leaves)
        verify_inclusion(index, size, leaves[index], path, root_of_leaves(leaves))


def test_many_inclusion_proofs_refuse_a_leaf_outside_the_tree() -> None:
    leaves = [leaf_hash(bytes(32))] * 4
    with pytest.raises(ProofError):
        inclusion_proofs([4], 4, leaves)
    with pytest.raises(ProofError):
        inclusion_proofs([0], 5, leaves)
