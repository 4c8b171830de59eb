"""Signed checkpoints checked against a log's entry hashes, streamed once, and against each other.

A checkpoint holds when its note verifies under the trusted key, no other checkpoint of the
same size has a different root (equivocation: the log showed two histories), the log has at
least as many entries as the checkpoint covers (else the log was truncated), and the Merkle root
of the first `size` entry hashes equals the signed root.

Checkpoints come from the log's export and, `kept`, from the auditor's own records of earlier
exports. All are checked against the same entries, so any two that hold describe one history
(they are consistent); a kept checkpoint that does not hold shows the log was rewritten (and
re-signed, if the export's own checkpoints hold) or cut short. Only kept checkpoints that hold
bound where a rewrite starts: the export's own could have been re-signed with it.

Where the log's chain breaks, checkpoints reaching past the break are `not checked`: their roots
would be computed from entries that did not verify, and saying anything about them would mislead.

Pure: standard library, `cryptography` and the sibling modules (the auditor's verifier ships it).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from .merkle import CompactRange, leaf_hash
from .signed_notes import BadSignatureError, Checkpoint, NoteError, UnknownKeyError, verify_checkpoint

Note = tuple[str, str | bytes]

# What is wrong with a checkpoint, as named in CheckpointResult.problem.
MALFORMED = "malformed"
WRONG_KEY = "wrong key"
BAD_SIGNATURE = "bad signature"
EQUIVOCATION = "equivocation"
TRUNCATED = "truncated log"
ROOT_MISMATCH = "root mismatch"
NOT_CHECKED = "not checked"


@dataclass(frozen=True)
class CheckpointResult:
    """The verdict on one checkpoint note, labelled by where it came from (e.g. its file name).

    `seqs` is the range of sequence numbers (first, last) where the problem lies, when known.
    """

    label: str
    checkpoint: Checkpoint | None
    problem: str | None = None
    detail: str = ""
    kept: bool = False
    seqs: tuple[int, int] | None = None

    @property
    def ok(self) -> bool:
        """True when the checkpoint is signed, unique for its size and matches the log."""
        return self.problem is None

    def summary(self) -> str:
        """One line for a terminal or a log."""
        size = f" (size {self.checkpoint.size})" if self.checkpoint else ""
        verdict = "ok" if self.ok else f"{self.problem}: {self.detail}"
        return f"checkpoint {self.label}{size}: {verdict}"


class CheckpointAudit:
    """Checks checkpoint notes against entry hashes fed one at a time, in sequence order."""

    def __init__(self, notes: Iterable[Note], vkey: str, kept: Iterable[Note] = ()) -> None:
        self._results = [_open(label, note, vkey, False) for label, note in notes]
        self._results += [_open(label, note, vkey, True) for label, note in kept]
        self._wanted = {result.checkpoint.size for result in self._results if result.checkpoint}
        self._tree = CompactRange()
        self._roots = {0: self._tree.root()}

    def add(self, entry_hash: bytes) -> None:
        """Feed the next entry hash of the log."""
        self._tree.append(leaf_hash(entry_hash))
        if self._tree.size in self._wanted:
            self._roots[self._tree.size] = self._tree.root()

    def results(self, log_size: int | None = None, *, complete: bool = True) -> list[CheckpointResult]:
        """The verdicts, given how many leading entries of the log are trusted (default: all fed).

        `complete=False`: the log's chain broke after `log_size` entries, so a checkpoint that
        reaches further is not checked (rather than called truncated or mismatched).
        """
        available = self._tree.size if log_size is None else log_size
        verdicts = [_against_log(result, self._roots, available, complete) for result in self._results]
        bounds = sorted(result.checkpoint.size for result in verdicts if result.kept and result.ok and result.checkpoint)
        return [_equivocation(_bounded(result, bounds), verdicts) for result in verdicts]


def check_checkpoints(notes: Iterable[Note], vkey: str, entry_hashes: Iterable[bytes], kept: Iterable[Note] = ()) -> list[CheckpointResult]:
    """Verify labelled checkpoint notes (and kept ones) against the log's entry hashes in sequence order."""
    audit = CheckpointAudit(notes, vkey, kept)
    for entry_hash in entry_hashes:
        audit.add(entry_hash)
    return audit.results()


def _open(label: str, note: str | bytes, vkey: str, kept: bool) -> CheckpointResult:
    try:
        return CheckpointResult(label, verify_checkpoint(note, vkey), kept=kept)
    except UnknownKeyError as exc:
        return CheckpointResult(label, None, WRONG_KEY, str(exc), kept)
    except BadSignatureError as exc:
        return CheckpointResult(label, None, BAD_SIGNATURE, str(exc), kept)
    except NoteError as exc:
        return CheckpointResult(label, None, MALFORMED, str(exc), kept)


def _against_log(result: CheckpointResult, roots: dict[int, bytes], available: int, complete: bool) -> CheckpointResult:
    checkpoint = result.checkpoint
    if checkpoint is None:
        return result
    if checkpoint.size > available and not complete:
        return replace(result, problem=NOT_CHECKED, detail=f"the chain breaks at seq {available + 1}, inside it")
    if checkpoint.size > available:
        detail = f"covers {checkpoint.size} entries but the log has {available}: seqs {available + 1}..{checkpoint.size} are missing"
        return replace(result, problem=TRUNCATED, detail=detail, seqs=(available + 1, checkpoint.size))
    if roots[checkpoint.size] != checkpoint.root:
        detail = f"the log's first {checkpoint.size} entries have another Merkle root"
        return replace(result, problem=ROOT_MISMATCH, detail=detail, seqs=(1, checkpoint.size))
    return result


def _bounded(result: CheckpointResult, kept_sizes: list[int]) -> CheckpointResult:
    """A root mismatch narrowed by the largest smaller kept checkpoint that holds: the change lies after it."""
    if result.problem != ROOT_MISMATCH or result.checkpoint is None:
        return result
    below = max((size for size in kept_sizes if size < result.checkpoint.size), default=0)
    first, last = below + 1, result.checkpoint.size
    return replace(result, detail=f"{result.detail}: an entry in seqs {first}..{last} differs from what was signed", seqs=(first, last))


def _equivocation(result: CheckpointResult, everyone: list[CheckpointResult]) -> CheckpointResult:
    checkpoint = result.checkpoint
    if checkpoint is None or result.problem == NOT_CHECKED:
        return result
    rivals = [other.label for other in everyone if _equivocates(checkpoint, other.checkpoint)]
    if not rivals:
        return result
    # Both notes of a fork are named; the one the log does not produce also says where it forks.
    detail = f"another root for size {checkpoint.size} is signed in {', '.join(rivals)}"
    if result.problem is not None:
        detail += f"; {result.problem}: {result.detail}"
    return replace(result, problem=EQUIVOCATION, detail=detail)


def _equivocates(mine: Checkpoint, other: Checkpoint | None) -> bool:
    return other is not None and other.size == mine.size and other.root != mine.root
