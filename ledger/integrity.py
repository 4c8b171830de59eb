"""`verify` on the database: the hash chain, the head, and every stored checkpoint, in one pass.

By default every entry is re-hashed from its canonical bytes, from seq 1, and every stored
checkpoint is checked: a body rewritten long ago, its stored hash kept, is found whatever was
verified before. A successful run stores in `verify_state` the size S of the largest checkpoint
it verified, the entry hash at S and the Merkle compact range of the first S entries.
`since_checkpoint` (`verify --since-checkpoint`) is the opt-in shortcut that resumes from S
(after checking that entry S still has that hash): it trusts the entries before S to the signed
checkpoint, so it cannot see a rewrite behind the triggers there.

A long walk runs in parallel segments (`chain_segments.py`); any segment that does not verify
cleanly sends verify back to the walk in one process, so failures are named exactly as always.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, select
from sqlalchemy.orm import Session

from config import SettingsError
from ledger.core import merkle
from ledger.core.chain import ChainReport
from ledger.checkpoint_store import CheckpointMismatch, check_note, stored_checkpoints, verifier_key_from_settings
from database.engine import read_only
from database.times import format_time
from ledger.entries import head, stored_hash
from ledger.models import VerifyState
from ledger.chain_segments import Parallelism, Progress, Segment, walk

GENESIS = bytes(32)


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of one verify run; `bad_seq` names the first bad entry when it failed."""

    ok: bool
    message: str
    entries: int = 0
    checkpoints: int = 0
    bad_seq: int | None = None
    first_seq: int = 1

    def describe(self) -> str:
        """The one line `verify` prints (and the dashboard shows): the summary, or the failure and where."""
        if self.ok:
            return self.message
        where = f"first bad seq {self.bad_seq}: " if self.bad_seq is not None else ""
        return f"ledger verification FAILED: {where}{self.message}"


@dataclass(frozen=True)
class _Start:
    seq: int
    hash: bytes
    tree: merkle.CompactRange
    checkpoint_id: int


def verify_with_settings(
    engine: Engine, settings: Any, *, clock: Callable[[], datetime], since_checkpoint: bool = False,
    progress: Progress | None = None,
) -> VerifyResult:
    """`verify_ledger` with the verifier key and origin of `settings`, as `bookings-ledger verify` runs it."""
    # The key is checked only when set: verify_ledger asks for it when there are checkpoints to check.
    verifier_key = verifier_key_from_settings(settings) if settings.CHECKPOINT_VERIFIER_KEY else None
    return verify_ledger(engine, verifier_key=verifier_key, origin=settings.CHECKPOINT_ORIGIN, clock=clock,
                         since_checkpoint=since_checkpoint, progress=progress)


def verify_ledger(
    engine: Engine, *, verifier_key: str | None, origin: str | None, clock: Callable[[], datetime],
    since_checkpoint: bool = False, progress: Progress | None = None, parallelism: Parallelism | None = None,
) -> VerifyResult:
    """Verify chain, head and checkpoints; on success remember where `since_checkpoint` may resume."""
    with read_only(engine) as connection:
        result, resume = _verify(connection, verifier_key, origin, since_checkpoint, progress, parallelism or Parallelism())
    if result.ok and resume is not None:
        _save_state(engine, resume, clock)
    return result


def _verify(
    connection: Connection, verifier_key: str | None, origin: str | None, since_checkpoint: bool,
    progress: Progress | None, parallelism: Parallelism,
) -> tuple[VerifyResult, _Start | None]:
    checkpoints = stored_checkpoints(connection)
    start = _start(connection, checkpoints, since_checkpoint)
    pending = [row for row in checkpoints if row.size > start.seq or row.id > start.checkpoint_id]
    try:
        _check_signatures(pending, verifier_key, origin)
        _check_equivocation(checkpoints)
        if start.seq and stored_hash(connection, start.seq) != start.hash:
            raise CheckpointMismatch(f"entry {start.seq} changed since the last verify", bad_seq=start.seq)
    except CheckpointMismatch as exc:
        return VerifyResult(False, str(exc), bad_seq=exc.bad_seq), None
    check = _CheckpointCheck(start, [row for row in pending if row.size > start.seq])
    report = _walk(connection, start, check, progress, parallelism)
    if not report.ok:
        return VerifyResult(False, report.summary(), report.count, bad_seq=report.bad_seq, first_seq=start.seq + 1), None
    problem = check.problem or _head_problem(connection, report.last_seq, report.last_hash)
    if problem is not None:
        return VerifyResult(False, str(problem), report.count, bad_seq=problem.bad_seq, first_seq=start.seq + 1), None
    message = f"ledger intact: {report.last_seq} entries, {len(checkpoints)} checkpoints" + (
        "" if not start.seq else f" (entries {start.seq + 1}..{report.last_seq} re-walked since checkpoint size {start.seq})"
    )
    return VerifyResult(True, message, report.count, len(checkpoints), first_seq=start.seq + 1), check.resume


def _walk(
    connection: Connection, start: _Start, check: _CheckpointCheck, progress: Progress | None, parallelism: Parallelism
) -> ChainReport:
    """Walk the chain after the start (in parallel when it is long) and check the checkpoints' roots."""
    segment = Segment(start.seq, start.hash, start.tree, check.limit, frozenset(row.size for row in check.checkpoints))
    result = walk(connection, segment, parallelism, progress)
    for tree, entry_hash in result.checkpoint_trees:
        check.reached(tree, entry_hash)
    check.finish(result.tree)
    return result.report


def _start(connection: Connection, checkpoints: Sequence[Row], since_checkpoint: bool) -> _Start:
    state = None if not since_checkpoint else connection.execute(select(VerifyState).where(VerifyState.id == 1)).first()
    if state is None:
        return _Start(0, GENESIS, merkle.CompactRange(), 0)
    if any(row.id > state.checkpoint_id and row.size < state.seq for row in checkpoints):
        return _Start(0, GENESIS, merkle.CompactRange(), 0)  # a new checkpoint reaches back: walk it all
    return _Start(state.seq, state.hash, merkle.CompactRange.from_frontier(state.seq, state.frontier), state.checkpoint_id)


def _check_signatures(checkpoints: Sequence[Row], verifier_key: str | None, origin: str | None) -> None:
    for row in checkpoints:
        if verifier_key is None:
            # Not a finding about the ledger but about this run's settings: exit 2, not 1.
            raise SettingsError("setting CHECKPOINT_VERIFIER_KEY is required to check the stored checkpoints; "
                                "set it to the verifier key string of the key that signed them")
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


class _CheckpointCheck:
    """Checks the pending checkpoints against the Merkle ranges the walk grew; knows where to resume."""

    def __init__(self, start: _Start, checkpoints: list[Row]) -> None:
        self.checkpoints = checkpoints
        self.limit = max((row.size for row in checkpoints), default=start.seq)
        self.resume: _Start | None = start
        self.problem: CheckpointMismatch | None = None
        self._last_id = max((row.id for row in checkpoints), default=start.checkpoint_id)

    def reached(self, tree: merkle.CompactRange, entry_hash: bytes) -> None:
        """Check every checkpoint of the tree's size (`entry_hash` is that entry's hash)."""
        while self.checkpoints and self.checkpoints[0].size == tree.size:
            self._check_root(self.checkpoints.pop(0), tree, entry_hash)

    def finish(self, tree: merkle.CompactRange) -> None:
        """Note a checkpoint the walk's tree never reached (the log was cut short)."""
        if tree.size < self.limit and self.problem is None:
            self.problem = CheckpointMismatch(
                f"a checkpoint covers {self.limit} entries but the ledger has {tree.size}", bad_seq=tree.size + 1
            )

    def _check_root(self, checkpoint: Row, tree: merkle.CompactRange, entry_hash: bytes) -> None:
        if tree.root() != checkpoint.root:
            self.problem = self.problem or CheckpointMismatch(
                f"checkpoint {checkpoint.id} (size {checkpoint.size}) does not match the ledger's Merkle root",
                bad_seq=None,
            )
        elif checkpoint.size == self.limit:
            self.resume = _Start(checkpoint.size, entry_hash, tree, self._last_id)


def _save_state(engine: Engine, resume: _Start, clock: Callable[[], datetime]) -> None:
    with Session(engine) as session, session.begin():
        state = session.get(VerifyState, 1) or VerifyState(id=1)
        state.seq, state.hash, state.checkpoint_id = resume.seq, resume.hash, resume.checkpoint_id
        state.frontier, state.verified_at = resume.tree.frontier, format_time(clock())
        session.merge(state)
