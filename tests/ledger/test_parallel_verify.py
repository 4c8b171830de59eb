"""Parallel verify: forced onto small ledgers, it names the same first bad seq and reason as the
walk in one process, for tampering at and around the segment boundaries."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from ledger.core import merkle
from ledger.checkpoint_store import create_checkpoint
from ledger.entries import append_entry
from ledger.chain_segments import Parallelism, Segment, walk_in_parallel
from database.engine import read_only
from ledger.integrity import verify_ledger
from tampering import replace_rows, rows, without_triggers
from test_tampering_property import Tamper, _apply

SEGMENT = 4  # boundaries at seq 4, 8, 12, 16
FORCED = Parallelism(workers=2, min_entries=0, segment_size=SEGMENT)
ONE_PROCESS = Parallelism(workers=1)
SIZE = 18
NEAR_BOUNDARIES = [3, 4, 5, 8, 9, 16, 17, 18]


def _verify(db, clock, parallelism, *, since_checkpoint=False, signer=None):
    key = signer.verifier_key if signer is not None else None
    origin = signer.origin if signer is not None else None
    return verify_ledger(db, verifier_key=key, origin=origin, since_checkpoint=since_checkpoint, clock=clock,
                         parallelism=parallelism)


@pytest.fixture
def chain(db, clock):
    """A ledger of SIZE entries."""
    with Session(db) as session, session.begin():
        for number in range(SIZE):
            append_entry(session, "exported", clock(), {"number": number})
    return db


def test_intact_ledger_verifies_the_same_in_parallel(chain, clock):
    assert _verify(chain, clock, FORCED) == _verify(chain, clock, ONE_PROCESS)
    assert _verify(chain, clock, FORCED).ok


@pytest.mark.parametrize("position", NEAR_BOUNDARIES)
@pytest.mark.parametrize("action", ["body", "hash", "delete", "insert-random", "insert-chained"])
def test_tampering_near_a_segment_boundary_is_named_as_in_one_process(chain, clock, action, position):
    replace_rows(chain, _apply(Tamper(action, position), rows(chain)))
    parallel, serial = _verify(chain, clock, FORCED), _verify(chain, clock, ONE_PROCESS)
    assert not parallel.ok and parallel.bad_seq == position
    assert parallel == serial


@pytest.mark.parametrize(("first", "second"), [(4, 5), (3, 9), (8, 9), (16, 17)])
def test_rows_swapped_across_a_boundary_are_named_as_in_one_process(chain, clock, first, second):
    replace_rows(chain, _apply(Tamper("swap", first, second), rows(chain)))
    parallel = _verify(chain, clock, FORCED)
    assert not parallel.ok and parallel.bad_seq == first
    assert parallel == _verify(chain, clock, ONE_PROCESS)


def test_a_segment_that_breaks_makes_the_parallel_walk_give_way(chain):
    """The parallel walk only confirms: a bad segment returns None (the one-process walk names it)."""
    with without_triggers(chain) as connection:
        connection.execute(text("UPDATE ledger_entries SET hash = :h WHERE seq = 9"), {"h": bytes(32)})
    segment = Segment(0, bytes(32), merkle.CompactRange(), 0, frozenset())
    with read_only(chain) as connection:
        bounds = FORCED.bounds(0, SIZE)
        assert walk_in_parallel(connection, segment, bounds, 2, None) is None


def test_checkpoints_inside_segments_are_checked_and_resumed_from(db, clock, signer):
    """Checkpoint roots at sizes inside segments come out of the joined Merkle ranges."""
    with Session(db) as session, session.begin():
        for size in (5, 11):
            while session.execute(text("SELECT seq FROM ledger_head")).scalar() < size:
                append_entry(session, "exported", clock(), {})
            create_checkpoint(session, signer, clock())
        for _ in range(6):
            append_entry(session, "exported", clock(), {})
    result = _verify(db, clock, FORCED, since_checkpoint=True, signer=signer)
    assert result == _verify(db, clock, ONE_PROCESS, signer=signer) and result.ok
    with db.connect() as connection:
        assert connection.execute(text("SELECT seq FROM verify_state")).scalar() == 11
    with without_triggers(db) as connection:
        connection.execute(text("UPDATE checkpoints SET root = :r WHERE size = 11"), {"r": bytes(32)})
    assert not _verify(db, clock, FORCED, signer=signer).ok


def test_segment_sizes_must_be_powers_of_two():
    with pytest.raises(ValueError, match="power of two"):
        Parallelism(segment_size=6)


@pytest.mark.parametrize(
    ("after", "last", "expected"),
    [(0, 10, [(0, 4), (4, 8), (8, 10)]), (5, 10, [(5, 8), (8, 10)]), (8, 10, [(8, 10)]), (0, 8, [(0, 4), (4, 8)])],
)
def test_segments_after_the_first_start_on_multiples_of_the_segment_size(after, last, expected):
    assert FORCED.bounds(after, last) == expected


def test_short_ranges_and_single_workers_walk_in_one_process():
    assert Parallelism(workers=2, min_entries=100).bounds(0, 100) is None
    assert Parallelism(workers=1, min_entries=0).bounds(0, 100) is None


@pytest.mark.parametrize(("first", "second"), [(0, 5), (4, 4), (8, 3), (8, 8), (16, 7)])
def test_ranges_of_aligned_segments_join_into_the_whole_tree(first, second):
    leaves = [merkle.leaf_hash(bytes([number]) * 32) for number in range(first + second)]
    head, tail = merkle.CompactRange(), merkle.CompactRange()
    for leaf in leaves[:first]:
        head.append(leaf)
    for leaf in leaves[first:]:
        tail.append(leaf)
    assert head.extend(tail).root() == merkle.root_of_leaves(leaves)


def test_a_range_cannot_join_where_its_subtrees_would_straddle():
    with pytest.raises(ValueError, match="cannot follow"):
        merkle.CompactRange(1, [bytes(32)]).extend(merkle.CompactRange(2, [bytes(32)]))
