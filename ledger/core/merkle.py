"""RFC 6962 Merkle trees over the ledger's entry hashes: roots, inclusion and consistency proofs.

The leaves are the entry hashes in sequence order; a leaf hashes as SHA-256(0x00 || entry hash)
and an interior node as SHA-256(0x01 || left || right) (RFC 6962 §2.1, RFC 9162 §2.1.1).
Roots stream through a compact range (one subtree root per set bit of the size), so a million
entries need a few kilobytes. Inclusion proofs read the leaves once, in order (a stream will do);
consistency proofs read them by index from a sequence. Proof verification follows RFC 9162
§2.1.3.2 and §2.1.4.2.

    ProofError (ValueError)   a proof does not verify, or its sizes make no sense

Pure: standard library only (the auditor's verifier ships it).
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof does not verify, or its indexes and sizes are out of range."""


def leaf_hash(entry_hash: bytes) -> bytes:
    """The RFC 6962 hash of one leaf (an entry hash)."""
    return hashlib.sha256(b"\x00" + entry_hash).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The RFC 6962 hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


class CompactRange:
    """The roots of the perfect subtrees covering leaves [0, size): append leaves, read the root."""

    def __init__(self, size: int = 0, peaks: Iterable[bytes] = ()) -> None:
        self._size = size
        self._peaks = list(peaks)
        if len(self._peaks) != size.bit_count():
            raise ValueError(f"a range of {size} leaves has {size.bit_count()} subtree roots")

    @property
    def size(self) -> int:
        """How many leaves have been appended."""
        return self._size

    @property
    def peaks(self) -> tuple[bytes, ...]:
        """The subtree roots, largest (leftmost) first: enough to resume appending later."""
        return tuple(self._peaks)

    @property
    def frontier(self) -> bytes:
        """The subtree roots joined, largest first: how the database stores a range."""
        return b"".join(self._peaks)

    @classmethod
    def from_frontier(cls, size: int, frontier: bytes) -> CompactRange:
        """The range of `size` leaves stored as `frontier` (ValueError if they do not fit)."""
        return cls(size, (frontier[i : i + HASH_SIZE] for i in range(0, len(frontier), HASH_SIZE)))

    def append(self, leaf: bytes) -> None:
        """Append one leaf hash (already hashed with `leaf_hash`)."""
        self._append_subtree(leaf, 0)

    def extend(self, other: CompactRange) -> CompactRange:
        """A new range of these leaves followed by `other`'s (a range counted from its own first leaf).

        `other`'s subtrees must be subtrees of the joined tree too, so this range's size must be a
        multiple of `other`'s largest subtree (true when `other` starts on a power-of-two boundary).
        """
        joined = CompactRange(self._size, self._peaks)
        heights = [height for height in reversed(range(other.size.bit_length())) if other.size >> height & 1]
        for height, peak in zip(heights, other.peaks):
            joined._append_subtree(peak, height)
        return joined

    def _append_subtree(self, node: bytes, height: int) -> None:
        if self._size & ((1 << height) - 1):
            raise ValueError(f"a subtree of {1 << height} leaves cannot follow {self._size} leaves")
        peaks, size = self._peaks, self._size >> height
        # Each trailing 1 bit of the old size is a full subtree of the new node's height: merge it.
        while size & 1:
            node = node_hash(peaks.pop(), node)
            size >>= 1
        peaks.append(node)
        self._size += 1 << height

    def root(self) -> bytes:
        """The Merkle tree hash of the leaves so far."""
        if not self._peaks:
            return EMPTY_ROOT
        root = self._peaks[-1]
        for peak in reversed(self._peaks[:-1]):
            root = node_hash(peak, root)
        return root


def root_of_leaves(leaves: Iterable[bytes]) -> bytes:
    """The Merkle tree hash of a stream of leaf hashes."""
    tree = CompactRange()
    for leaf in leaves:
        tree.append(leaf)
    return tree.root()


def root_of_entries(entry_hashes: Iterable[bytes]) -> bytes:
    """The Merkle tree hash of a stream of entry hashes (the checkpoint root)."""
    return root_of_leaves(map(leaf_hash, entry_hashes))


def inclusion_proof(index: int, size: int, leaves: Iterable[bytes]) -> list[bytes]:
    """The audit path of leaf `index` in the tree of the first `size` leaf hashes, read once in order."""
    ranges = _sibling_ranges(index, size)
    # The sibling ranges tile every leaf but `index`: one pass over the leaves, in order, computes
    # their roots, so a proof over millions of leaves keeps only the path in memory.
    stream, position, roots = iter(leaves), 0, {}
    for lo, hi in sorted(ranges):
        if lo > position:
            next(stream, None)  # leaf `index` itself, which the path leaves out
        roots[lo] = _streamed_root(stream, hi - lo, size)
        position = hi
    return [roots[lo] for lo, _hi in reversed(ranges)]  # collected top-down; the proof runs from the leaf up


def inclusion_proofs(indexes: Iterable[int], size: int, leaves: Sequence[bytes]) -> dict[int, list[bytes]]:
    """The audit paths of many leaves of the tree of the first `size` leaf hashes, by index.

    Only the subtree roots the paths need are kept, computed smallest first so a larger one reuses
    those inside it: a certificate citing hundreds of entries costs about one pass over the
    leaves and memory for its paths alone (`leaves` may compute each leaf on access)."""
    if len(leaves) < size:
        raise ProofError(f"a tree of {size} needs {size} leaves")
    wanted = sorted(set(indexes))
    siblings = {index: _sibling_ranges(index, size) for index in wanted}
    needed = {pair for ranges in siblings.values() for pair in ranges}
    roots: dict[tuple[int, int], bytes] = {}

    def root(lo: int, hi: int) -> bytes:
        if (lo, hi) in roots:
            return roots[lo, hi]
        if hi - lo == 1:
            value = leaves[lo]
        else:
            split = lo + _split(hi - lo)
            value = node_hash(root(lo, split), root(split, hi))
        if (lo, hi) in needed:
            roots[lo, hi] = value
        return value

    for lo, hi in sorted(needed, key=lambda pair: pair[1] - pair[0]):
        root(lo, hi)
    return {index: [roots[pair] for pair in reversed(siblings[index])] for index in wanted}


def _sibling_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose roots make up leaf `index`'s audit path, from the root down."""
    if not 0 <= index < size:
        raise ProofError(f"no leaf {index} in a tree of {size}")
    ranges, lo, hi = [], 0, size
    while hi - lo > 1:
        split = lo + _split(hi - lo)
        if index < split:
            ranges.append((split, hi))
            hi = split
        else:
            ranges.append((lo, split))
            lo = split
    return ranges


def consistency_proof(size1: int, size2: int, leaves: Sequence[bytes]) -> list[bytes]:
    """The RFC 6962 proof that the tree of `size1` leaves is a prefix of the one of `size2`."""
    if not 0 < size1 <= size2 <= len(leaves):
        raise ProofError(f"no consistency proof from {size1} to {size2} (of {len(leaves)} leaves)")
    proof, lo, hi, whole = [], 0, size2, True
    # RFC 6962 §2.1.2 SUBPROOF, unrolled: `whole` is its flag b (the old tree is this subtree).
    while size1 - lo != hi - lo:
        split = lo + _split(hi - lo)
        if size1 <= split:
            proof.append(_subtree_root(leaves, split, hi))
            hi = split
        else:
            proof.append(_subtree_root(leaves, lo, split))
            lo, whole = split, False
    if not whole:
        proof.append(_subtree_root(leaves, lo, hi))
    return proof[::-1]


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Check an audit path (RFC 9162 §2.1.3.2); raises ProofError when it does not hold."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of {size}")
    if len(leaf) != HASH_SIZE:
        raise ProofError(f"a leaf hash has {HASH_SIZE} bytes")
    if _climb(index, size - 1, leaf, proof)[1] != root:
        raise ProofError("the proof does not lead to the root")


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Check a consistency proof (RFC 9162 §2.1.4.2); raises ProofError when it does not hold."""
    if not 0 < size1 <= size2:
        # An empty old tree is consistent with anything, so a proof from it proves nothing.
        raise ProofError(f"no consistency proof from size {size1} to size {size2}")
    if size1 == size2:
        if proof:
            raise ProofError("equal sizes take an empty proof")
        if root1 != root2:
            raise ProofError("equal sizes with different roots")
        return
    if not proof:
        raise ProofError("the proof is empty")
    path = [root1, *proof] if size1 & (size1 - 1) == 0 else list(proof)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    if _climb(fn, sn, path[0], path[1:]) != (root1, root2):
        raise ProofError("the proof does not lead to both roots")


def _climb(fn: int, sn: int, start: bytes, path: Sequence[bytes]) -> tuple[bytes, bytes]:
    """RFC 9162's walk up a proof: (the root over left siblings only, the root over all of them)."""
    # Inclusion uses the second; consistency needs both (the old tree's and the new tree's root).
    old = new = start
    for sibling in path:
        if sn == 0:
            raise ProofError("the proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            old, new = node_hash(sibling, old), node_hash(sibling, new)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            new = node_hash(new, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the proof is shorter than the tree is deep")
    return old, new


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1): RFC 6962's k."""
    return 1 << ((n - 1).bit_length() - 1)


def _subtree_root(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    return root_of_leaves(leaves[i] for i in range(lo, hi))


def _streamed_root(stream: Iterator[bytes], count: int, size: int) -> bytes:
    """The root of the next `count` leaves of `stream` (ProofError if it runs out: fewer than `size`)."""
    tree = CompactRange()
    for leaf in islice(stream, count):
        tree.append(leaf)
    if tree.size != count:
        raise ProofError(f"a tree of {size} needs {size} leaves")
    return tree.root()
