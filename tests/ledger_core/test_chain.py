"""verify_chain names the first bad sequence number for any single tampering of the rows."""
from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core import chain
from ledger.core.canonical import GENESIS_HASH, canonical_bytes, entry_hash
from ledger.core.chain import Row, verify_chain

from .factories import build_rows, chain_of, make_entry


def _forged(seq: int, previous: bytes, chained: bool) -> Row:
    body = canonical_bytes(make_entry(seq, kind="erased"))
    return seq, body, entry_hash(previous, body) if chained else hashlib.sha256(body).digest()


def _modify_body(rows: list[Row], k: int, data: st.DataObject) -> int:
    seq, body, stored = rows[k - 1]
    rows[k - 1] = (seq, body.replace(b'"collected"', b'"cancelled"'), stored)
    return k


def _modify_hash(rows: list[Row], k: int, data: st.DataObject) -> int:
    seq, body, stored = rows[k - 1]
    rows[k - 1] = (seq, body, bytes([stored[0] ^ 1]) + stored[1:])
    return k


def _delete(rows: list[Row], k: int, data: st.DataObject) -> int:
    # Deleting the last row leaves a shorter valid chain: only a checkpoint can tell (see
    # test_checkpoints); every other deletion breaks the chain.
    k = data.draw(st.integers(1, len(rows) - 1), label="deleted")
    del rows[k - 1]
    return k


def _insert_renumbered(rows: list[Row], k: int, data: st.DataObject) -> int:
    previous = rows[k - 2][2] if k > 1 else GENESIS_HASH
    forged = _forged(k, previous, data.draw(st.booleans(), label="chained"))
    rows[k - 1 :] = [forged] + [(seq + 1, body, stored) for seq, body, stored in rows[k - 1 :]]
    return k


def _insert_duplicate(rows: list[Row], k: int, data: st.DataObject) -> int:
    previous = rows[k - 2][2] if k > 1 else GENESIS_HASH
    forged = _forged(k, previous, data.draw(st.booleans(), label="chained"))
    rows.insert(k - 1 + data.draw(st.integers(0, 1), label="after"), forged)
    return k


def _swap_contents(rows: list[Row], k: int, data: st.DataObject) -> int:
    j = data.draw(st.integers(1, len(rows)).filter(lambda j: j != k), label="other")
    (a, body_a, hash_a), (b, body_b, hash_b) = rows[k - 1], rows[j - 1]
    rows[k - 1], rows[j - 1] = (a, body_b, hash_b), (b, body_a, hash_a)
    return min(j, k)


def _swap_positions(rows: list[Row], k: int, data: st.DataObject) -> int:
    j = data.draw(st.integers(1, len(rows)).filter(lambda j: j != k), label="other")
    rows[k - 1], rows[j - 1] = rows[j - 1], rows[k - 1]
    return min(j, k)


class _Always:
    """Stands in for hypothesis' data object where a test wants one fixed draw."""

    def __init__(self, value: int) -> None:
        self.value = value

    def draw(self, strategy: st.SearchStrategy, label: str | None = None) -> int:
        return self.value


MUTATIONS = [_modify_body, _modify_hash, _delete, _insert_renumbered, _insert_duplicate, _swap_contents, _swap_positions]


@settings(max_examples=300, deadline=None)
@given(count=st.integers(2, 25), mutation=st.sampled_from(MUTATIONS), data=st.data())
def test_any_single_tampering_names_the_first_bad_seq(count: int, mutation, data: st.DataObject) -> None:  # noqa: ANN001
    """Modifying, deleting, inserting or reordering one row fails at exactly that row's seq."""
    rows = build_rows(count)
    k = data.draw(st.integers(1, count), label="row")
    bad = mutation(rows, k, data)
    report = verify_chain(rows)
    assert not report.ok
    assert report.bad_seq == bad, report.detail
    assert report.count <= bad
    assert report.count == report.last_seq


@given(count=st.integers(0, 30))
def test_an_untouched_chain_is_intact(count: int) -> None:
    """A chain as written verifies, counting every entry and returning the last hash."""
    rows = build_rows(count)
    report = verify_chain(rows)
    assert report.ok and report.count == count and report.last_seq == count
    assert report.last_hash == (rows[-1][2] if rows else GENESIS_HASH)


@pytest.mark.parametrize(
    ("mutation", "reason"),
    [
        (_modify_body, chain.BODY_MODIFIED),
        (_modify_hash, chain.HASH_MODIFIED),
        (_swap_contents, chain.REORDERED),
    ],
)
def test_the_reason_tells_what_changed(mutation, reason: str) -> None:  # noqa: ANN001
    """Body edits, hash edits and swapped entries are told apart."""
    rows = build_rows(10)
    mutation(rows, 4, _Always(8))
    report = verify_chain(rows)
    assert (report.bad_seq, report.reason) == (4, reason)


def test_gap_duplicate_insertion_and_wrong_start_are_named() -> None:
    """Each sequence anomaly carries its own reason."""
    rows = build_rows(6)
    assert verify_chain(rows[:2] + rows[3:]).reason == chain.GAP
    assert verify_chain(rows[:3] + rows[2:]).reason == chain.DUPLICATE
    assert verify_chain(rows[1:]).reason == chain.WRONG_START
    assert verify_chain(rows, first_seq=2).reason == chain.WRONG_START
    forged = _forged(3, rows[1][2], chained=True)
    renumbered = rows[:2] + [forged] + [(seq + 1, body, stored) for seq, body, stored in rows[2:]]
    assert (verify_chain(renumbered).bad_seq, verify_chain(renumbered).reason) == (3, chain.INSERTED)


def test_a_rewrite_with_recomputed_hash_breaks_the_next_link() -> None:
    """An edit whose own hash is recomputed leaves that row consistent: the next link breaks."""
    rows = build_rows(6)
    entry = make_entry(3, kind="cancelled")
    rows[2] = chain_of([entry], previous=rows[1][2])[0]
    report = verify_chain(rows)
    assert report.bad_seq == 4


def test_verification_resumes_from_a_known_hash() -> None:
    """An incremental walk starts from the hash and seq where the last one stopped."""
    rows = build_rows(20)
    report = verify_chain(rows[10:], previous_hash=rows[9][2], first_seq=11)
    assert report.ok and report.count == 10 and report.last_hash == rows[-1][2]
    assert verify_chain(rows[10:], previous_hash=rows[8][2], first_seq=11).reason == chain.WRONG_START


def _stream(count: int) -> Iterator[Row]:
    previous, template = GENESIS_HASH, canonical_bytes(make_entry(1))
    for seq in range(1, count + 1):
        body = template.replace(b'"seq":1,', b'"seq":%d,' % seq)
        previous = entry_hash(previous, body)
        yield seq, body, previous


def test_memory_stays_flat_over_a_long_chain() -> None:
    """Two hundred thousand streamed rows are verified in constant memory."""
    tracemalloc.start()
    try:
        report = verify_chain(_stream(200_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.ok and report.count == 200_000
    assert peak < 64 * 1024
