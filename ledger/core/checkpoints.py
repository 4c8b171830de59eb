"""Signed checkpoints checked against a log's entry hashes, streamed once.

A checkpoint holds when its note verifies under the trusted key, no other checkpoint of the
same size has a different root (equivocation: the log showed two histories), the log has at
least as many entries as the checkpoint covers (else the log was truncated), and the Merkle root
of the first `size` entry hashes equals the signed root.

Pure: standard library, `cryptography` and the sibling modules (the auditor's verifier ships it).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .merkle import CompactRange, leaf_hash
from .signed_notes import BadSignatureError, Checkpoint, NoteError, UnknownKeyError, verify_checkpoint

# What is wrong with a checkpoint, as named in CheckpointResult.problem.
MALFORMED = "malformed"
WRONG_KEY = "wrong key"
BAD_SIGNATURE = "bad signature"
EQUIVOCATION = "equivocation"
TRUNCATED = "truncated log"
ROOT_MISMATCH = "root mismatch"


@dataclass(frozen=True)
class CheckpointResult:
    """The verdict on one checkpoint note, labelled by where it came from (e.g. its file name)."""

    label: str
    checkpoint: Checkpoint | None
    problem: str | None = None
    detail: str = ""

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

    def __init__(self, notes: Iterable[tuple[str, str | bytes]], vkey: str) -> None:
        self._results = [_open(label, note, vkey) for label, note in notes]
        self._wanted = {result.checkpoint.size for result in self._results if result.checkpoint}
        self._tree = CompactRange()
        self._roots = {0: self._tree.root()}

    def add(self, entry_hash: bytes) -> None:
        """Feed the next entry hash of the log."""
        self._tree.append(leaf_hash(entry_hash))
        if self._tree.size in self._wanted:
            self._roots[self._tree.size] = self._tree.root()

    def results(self, log_size: int | None = None) -> list[CheckpointResult]:
        """The verdicts, given how many leading entries of the log are trusted (default: all fed)."""
        available = self._tree.size if log_size is None else log_size
        return [_against_log(result, self._results, self._roots, available) for result in self._results]


def check_checkpoints(
    notes: Iterable[tuple[str, str | bytes]], vkey: str, entry_hashes: Iterable[bytes]
) -> list[CheckpointResult]:
    """Verify labelled checkpoint notes against the log's entry hashes in sequence order."""
    audit = CheckpointAudit(notes, vkey)
    for entry_hash in entry_hashes:
        audit.add(entry_hash)
    return audit.results()


def _open(label: str, note: str | bytes, vkey: str) -> CheckpointResult:
    try:
        return CheckpointResult(label, verify_checkpoint(note, vkey))
    except UnknownKeyError as exc:
        return CheckpointResult(label, None, WRONG_KEY, str(exc))
    except BadSignatureError as exc:
        return CheckpointResult(label, None, BAD_SIGNATURE, str(exc))
    except NoteError as exc:
        return CheckpointResult(label, None, MALFORMED, str(exc))


def _against_log(
    result: CheckpointResult, everyone: list[CheckpointResult], roots: dict[int, bytes], available: int
) -> CheckpointResult:
    checkpoint = result.checkpoint
    if checkpoint is None:
        return result
    rivals = [other.label for other in everyone if _equivocates(checkpoint, other.checkpoint)]
    if rivals:
        detail = f"another root for size {checkpoint.size} is signed in {', '.join(rivals)}"
        return CheckpointResult(result.label, checkpoint, EQUIVOCATION, detail)
    if checkpoint.size > available:
        detail = f"covers {checkpoint.size} entries but the log has {available}"
        return CheckpointResult(result.label, checkpoint, TRUNCATED, detail)
    if roots[checkpoint.size] != checkpoint.root:
        detail = f"the log's first {checkpoint.size} entries have another Merkle root"
        return CheckpointResult(result.label, checkpoint, ROOT_MISMATCH, detail)
    return result


def _equivocates(mine: Checkpoint, other: Checkpoint | None) -> bool:
    return other is not None and other.size == mine.size and other.root != mine.root
