"""Signed checkpoints against the log: wrong key, equivocation, truncation, modified notes."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core import checkpoints
from ledger.core.checkpoints import check_checkpoints
from ledger.core.merkle import root_of_entries
from ledger.core.signed_notes import sign_checkpoint

from .factories import OTHER_SEED, ORIGIN, SEED, VKEY, build_rows, checkpoint_for

SIZES = st.integers(1, 40).flatmap(lambda count: st.tuples(st.just(count), st.integers(0, count)))


def _hashes(rows: list) -> list[bytes]:
    return [row[2] for row in rows]


@settings(max_examples=60, deadline=None)
@given(sizes=SIZES)
def test_a_checkpoint_of_the_log_matches(sizes: tuple[int, int]) -> None:
    """A checkpoint signed over any prefix of the log verifies against the whole log."""
    count, size = sizes
    rows = build_rows(count)
    [result] = check_checkpoints([("cp", checkpoint_for(rows, size))], VKEY, _hashes(rows))
    assert result.ok and result.checkpoint.size == size


@settings(max_examples=60, deadline=None)
@given(sizes=SIZES)
def test_a_checkpoint_under_another_key_is_a_wrong_key(sizes: tuple[int, int]) -> None:
    """A checkpoint signed by a different key is not accepted."""
    count, size = sizes
    rows = build_rows(count)
    [result] = check_checkpoints([("cp", checkpoint_for(rows, size, OTHER_SEED))], VKEY, _hashes(rows))
    assert result.problem == checkpoints.WRONG_KEY


@settings(max_examples=60, deadline=None)
@given(sizes=SIZES, cut=st.integers(1, 40))
def test_a_log_shorter_than_a_checkpoint_is_truncated(sizes: tuple[int, int], cut: int) -> None:
    """Deleting entries from the end of the log is caught by any checkpoint that covered them."""
    count, size = sizes
    rows = build_rows(count)
    remaining = max(0, size - cut)
    [result] = check_checkpoints([("cp", checkpoint_for(rows, size))], VKEY, _hashes(rows)[:remaining])
    assert result.ok if remaining >= size else result.problem == checkpoints.TRUNCATED


@settings(max_examples=60, deadline=None)
@given(sizes=SIZES.filter(lambda sizes: sizes[1] > 0), data=st.data())
def test_two_roots_for_one_size_are_equivocation(sizes: tuple[int, int], data: st.DataObject) -> None:
    """Two validly signed checkpoints of one size with different roots both fail."""
    count, size = sizes
    rows = build_rows(count)
    forked = list(_hashes(rows))
    forked[data.draw(st.integers(0, size - 1), label="forked")] = bytes(32)
    rival = sign_checkpoint(ORIGIN, size, root_of_entries(forked[:size]), SEED)
    results = check_checkpoints([("a", checkpoint_for(rows, size)), ("b", rival)], VKEY, _hashes(rows))
    assert [result.problem for result in results] == [checkpoints.EQUIVOCATION] * 2
    assert "b" in results[0].detail


@settings(max_examples=60, deadline=None)
@given(sizes=SIZES, data=st.data())
def test_a_modified_note_is_rejected(sizes: tuple[int, int], data: st.DataObject) -> None:
    """Changing any character of a signed checkpoint's text fails its signature or its form."""
    count, size = sizes
    rows = build_rows(count)
    note = checkpoint_for(rows, size)
    text_length = note.index("\n\n")
    at = data.draw(st.integers(0, text_length - 1), label="position")
    replacement = "X" if note[at] != "X" else "Y"
    [result] = check_checkpoints([("cp", note[:at] + replacement + note[at + 1 :])], VKEY, _hashes(rows))
    assert result.problem in {checkpoints.BAD_SIGNATURE, checkpoints.MALFORMED}


def test_a_rewritten_log_does_not_match_its_checkpoint() -> None:
    """An entry rewritten with a recomputed hash changes the Merkle root of every later checkpoint."""
    rows = build_rows(12)
    note = checkpoint_for(rows, 10)
    rewritten = _hashes(rows)
    rewritten[9] = bytes(32)
    [result] = check_checkpoints([("cp", note)], VKEY, rewritten)
    assert result.problem == checkpoints.ROOT_MISMATCH
    assert "size 10" in result.summary()
