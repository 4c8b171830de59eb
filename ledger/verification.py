"""`verify` on the database: the hash chain, the head, and every stored checkpoint, in one pass.

Incremental by default: a successful run stores in `verify_state` the size S of the largest
checkpoint it verified, the entry hash at S and the Merkle compact range of the first S
entries; the next run re-walks the chain from S only (after checking that entry S still has that
hash) and checks the checkpoints made since. Entries before S are vouched for by the verified,
signed checkpoint; `--full` re-walks everything from seq 1 and is what an audit should run.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, Row, select
from sqlalchemy.orm import Session

from ledger import merkle
from ledger.chain import verify_chain
from ledger.checkpoint_store import CheckpointMismatch, check_note, stored_checkpoints
from ledger.db import read_only
from ledger.entries import format_time, head, stored_hash, stream_row_batches
from ledger.models import VerifyState

GENESIS = bytes(32)
Progress = Callable[[int], None]


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of one verify run; `bad_seq` names the first bad entry when it failed."""

    ok: bool
    message: str
    entries: int = 0
    checkpoints: int = 0
    bad_seq: int | None = None
    first_seq: int = 1


@dataclass(frozen=True)
class _Start:
    seq: int
    hash: bytes
    tree: merkle.CompactRange
    checkpoint_id: int


def verify_ledger(
    engine: Engine, *, verifier_key: str | None, origin: str | None, full: bool, clock: Callable[[], datetime],
    progress: Progress | None = None,
) -> VerifyResult:
    """Verify chain, head and checkpoints; on success remember where to resume next time."""
    with read_only(engine) as connection:
        result, resume = _verify(connection, verifier_key, origin, full, progress)
    if result.ok and resume is not None:
        _save_state(engine, resume, clock)
    return result


def _verify(
    connection: Connection, verifier_key: str | None, origin: str | None, full: bool, progress: Progress | None
) -> tuple[VerifyResult, _Start | None]:
    checkpoints = stored_checkpoints(connection)
    start = _start(connection, checkpoints, full)
    pending = [row for row in checkpoints if row.size > start.seq or row.id > start.checkpoint_id]
    try:
        _check_signatures(pending, verifier_key, origin)
        _check_equivocation(checkpoints)
        if start.seq and stored_hash(connection, start.seq) != start.hash:
            raise CheckpointMismatch(f"entry {start.seq} changed since the last verify", bad_seq=start.seq)
    except CheckpointMismatch as exc:
        return VerifyResult(False, str(exc), bad_seq=exc.bad_seq), None
    walk = _MerkleWalk(start, [row for row in pending if row.size > start.seq], progress)
    # closing(): a walk that stops at the first bad row must release its server-side cursor now.
    with closing(stream_row_batches(connection, start.seq)) as batches:
        report = verify_chain(walk.rows(batches), previous_hash=start.hash, first_seq=start.seq + 1)
    if not report.ok:
        return VerifyResult(False, report.summary(), report.count, bad_seq=report.bad_seq, first_seq=start.seq + 1), None
    problem = walk.problem or _head_problem(connection, report.last_seq, report.last_hash)
    if problem is not None:
        return VerifyResult(False, str(problem), report.count, bad_seq=problem.bad_seq, first_seq=start.seq + 1), None
    message = f"ledger intact: {report.last_seq} entries, {len(checkpoints)} checkpoints" + (
        "" if full or not start.seq else f" (entries {start.seq + 1}..{report.last_seq} re-walked; --full for all)"
    )
    return VerifyResult(True, message, report.count, len(checkpoints), first_seq=start.seq + 1), walk.resume


def _start(connection: Connection, checkpoints: Sequence[Row], full: bool) -> _Start:
    state = None if full else connection.execute(select(VerifyState).where(VerifyState.id == 1)).first()
    if state is None:
        return _Start(0, GENESIS, merkle.CompactRange(), 0)
    if any(row.id > state.checkpoint_id and row.size < state.seq for row in checkpoints):
        return _Start(0, GENESIS, merkle.CompactRange(), 0)  # a new checkpoint reaches back: walk it all
    peaks = [state.frontier[i : i + 32] for i in range(0, len(state.frontier), 32)]
    return _Start(state.seq, state.hash, merkle.CompactRange(state.seq, peaks), state.checkpoint_id)


def _check_signatures(checkpoints: Sequence[Row], verifier_key: str | None, origin: str | None) -> None:
    for row in checkpoints:
        if verifier_key is None:
            raise CheckpointMismatch("checkpoints are stored but no verifier key is configured (CHECKPOINT_SIGNING_KEY)")
        note = check_note(row.note, verifier_key, origin=origin)
        if row.size == 0 and row.root != merkle.EMPTY_ROOT:
            raise CheckpointMismatch(f"checkpoint {row.id} of the empty ledger has a non-empty root")
        if (note.size, note.root) != (row.size, row.root):
            raise CheckpointMismatch(f"checkpoint {row.id}: its columns differ from its signed note")


def _check_equivocation(checkpoints: Sequence[Row]) -> None:
    roots: dict[int, bytes] = {}
    for row in checkpoints:
        if roots.setdefault(row.size, row.root) != row.root:
            raise CheckpointMismatch(f"equivocation: two checkpoints of size {row.size} with different roots")


def _head_problem(connection: Connection, last_seq: int, last_hash: bytes) -> CheckpointMismatch | None:
    head_seq, head_hash = head(connection)
    if last_seq < head_seq:
        return CheckpointMismatch(f"entries {last_seq + 1}..{head_seq} are missing (the head says {head_seq})", bad_seq=last_seq + 1)
    if last_seq > head_seq or last_hash != head_hash:
        return CheckpointMismatch(f"entry {head_seq + 1} lies beyond the head (seq {head_seq})", bad_seq=min(last_seq, head_seq + 1))
    return None


class _MerkleWalk:
    """Feeds rows to the chain check while growing the Merkle tree up to the last pending checkpoint."""

    def __init__(self, start: _Start, checkpoints: list[Row], progress: Progress | None) -> None:
        self.tree, self.checkpoints, self.progress = start.tree, checkpoints, progress
        self.limit = max((row.size for row in checkpoints), default=start.seq)
        self.resume: _Start | None = start
        self.problem: CheckpointMismatch | None = None
        self._last_id = max((row.id for row in checkpoints), default=start.checkpoint_id)

    def rows(self, batches: Iterator[Sequence[Row]]) -> Iterator[Row]:
        """The rows of every batch, after their leaves went into the tree (until the last checkpoint)."""
        for batch in batches:
            # After a root mismatch the walk goes on: the chain check may still name a bad seq.
            if self.tree.size < self.limit and self.problem is None:
                self._grow(batch)
            if self.progress is not None:
                self.progress(len(batch))
            yield from batch
        if self.tree.size < self.limit and self.problem is None:
            self.problem = CheckpointMismatch(
                f"a checkpoint covers {self.limit} entries but the ledger has {self.tree.size}", bad_seq=self.tree.size + 1
            )

    def _grow(self, batch: Sequence[Row]) -> None:
        for seq, _body, entry_hash in batch:
            if seq > self.limit or seq != self.tree.size + 1:
                return  # beyond the checkpoints, or a gap the chain check will name
            self.tree.append(merkle.leaf_hash(entry_hash))
            while self.checkpoints and self.checkpoints[0].size == seq:
                self._check_root(self.checkpoints.pop(0), entry_hash)

    def _check_root(self, checkpoint: Row, entry_hash: bytes) -> None:
        if self.tree.root() != checkpoint.root:
            self.problem = self.problem or CheckpointMismatch(
                f"checkpoint {checkpoint.id} (size {checkpoint.size}) does not match the ledger's Merkle root",
                bad_seq=None,
            )
        elif checkpoint.size == self.limit:
            self.resume = _Start(checkpoint.size, entry_hash, merkle.CompactRange(self.tree.size, self.tree.peaks), self._last_id)


def _save_state(engine: Engine, resume: _Start, clock: Callable[[], datetime]) -> None:
    with Session(engine) as session, session.begin():
        state = session.get(VerifyState, 1) or VerifyState(id=1)
        state.seq, state.hash, state.checkpoint_id = resume.seq, resume.hash, resume.checkpoint_id
        state.frontier, state.verified_at = b"".join(resume.tree.peaks), format_time(clock())
        session.merge(state)
