"""The auditor's verifier: writes and checks a ledger export, and runs standalone.

An export directory holds
    entries.jsonl     one entry a line: {"seq":N,"hash":"<hex entry hash>","entry":{...}} (export_records.py)
    checkpoints/      signed tlog-checkpoint notes, *.note; the last covers every exported entry
    public-key.txt    the log's verifier key string
    verifier/         this module and its pure siblings, runnable as `python -m verifier`
    README.txt        how to run it

`cd EXPORT_DIR && python -m verifier . --key "<verifier key>" [--checkpoint FILE ...]` needs
Python 3.11 and `cryptography` only. `--checkpoint` (repeatable) gives checkpoints the auditor
kept from earlier exports: each is checked against these entries and the export's checkpoints,
so a history rewritten and re-signed by the key holder, or an export cut short together with its
newest checkpoint, is caught. It exits 0 when every entry verifies and is covered by a signed
checkpoint, 1 when the export was tampered with or entries are covered by no signature (naming
the first bad sequence number, or the range, and the bad checkpoint), 2 on bad usage. Pass the
key you obtained from the operator out of band: the copy in public-key.txt is a convenience,
not a trust anchor.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .chain import ChainReport, Row, verify_chain
from .checkpoints import NOT_CHECKED, CheckpointAudit, CheckpointResult
from .export_records import RecordError, format_record, parse_record
from .signed_notes import NoteError, parse_verifier_key

ENTRIES = "entries.jsonl"
CHECKPOINTS = "checkpoints"
PUBLIC_KEY = "public-key.txt"
VERIFIER_DIR = "verifier"
KEPT_PREFIX = "kept:"
# The modules that make up the standalone verifier; none imports anything else of the project.
SHIPPED = (
    "canonical.py", "chain.py", "merkle.py", "signed_notes.py", "checkpoints.py", "export_records.py",
    "auditor_verifier.py", "certificates.py",
)
_INIT = '"""The bookings-ledger export verifier (a copy of the pure ledger modules)."""\n'
_MAIN = '"""python -m verifier EXPORT_DIR --key VKEY [--checkpoint FILE ...]"""\nfrom .auditor_verifier import main\n\nraise SystemExit(main())\n'
_README = """This is an export of a bookings-ledger compliance ledger (format: docs/ledger-format.md).
Check it with Python 3.11+ and the `cryptography` package:

    cd {directory}
    python -m verifier . --key "<the log's verifier key, obtained from its operator>" \\
        --checkpoint /path/to/a/checkpoint/you/kept.note   # repeatable; keep this export's newest too

Exit status 0: every entry verifies and a signed checkpoint covers it. 1: tampered with, or
entries no signature covers (the first bad seq or checkpoint is named). 2: bad usage.
"""


@dataclass(frozen=True)
class ExportReport:
    """The verdict on an export: the chain walk, every checkpoint, and how much a signature covers."""

    chain: ChainReport
    checkpoints: list[CheckpointResult]

    @property
    def covered(self) -> int:
        """How many leading entries the newest checkpoint that holds covers."""
        return max((result.checkpoint.size for result in self.checkpoints if result.ok and result.checkpoint), default=0)

    @property
    def uncovered(self) -> int:
        """Entries of an unbroken chain after the newest checkpoint that holds: no signature vouches for them."""
        return max(self.chain.count - self.covered, 0) if self.chain.ok else 0

    @property
    def ok(self) -> bool:
        """True when the chain and every checkpoint hold and a signed checkpoint covers every entry."""
        # Without a signed checkpoint nothing ties the entries to the log's key: anyone could
        # have written a fresh, self-consistent chain, or appended to a signed one.
        checked = bool(self.checkpoints) and all(result.ok for result in self.checkpoints)
        return self.chain.ok and checked and self.uncovered == 0

    def lines(self) -> list[str]:
        """What to print: one line when intact, one per finding otherwise."""
        if self.ok:
            kept = sum(result.kept for result in self.checkpoints)
            return [
                f"intact: {self.chain.count} entries, {len(self.checkpoints)} checkpoints verified"
                f" ({kept} kept by you); the newest covers every entry; last hash {self.chain.last_hash.hex()}"
            ]
        lines = [] if self.chain.ok else [f"TAMPERED: {self.chain.summary()}"]
        if not self.checkpoints:
            lines.append(f"TAMPERED: no signed checkpoint in {CHECKPOINTS}/ vouches for the entries")
        lines += [f"TAMPERED: {result.summary()}" for result in self.checkpoints if result.problem not in (None, NOT_CHECKED)]
        unchecked = [result.label for result in self.checkpoints if result.problem == NOT_CHECKED]
        if unchecked:
            lines.append(f"not checked (they reach past seq {self.chain.bad_seq}, where the chain breaks): {', '.join(unchecked)}")
        if self.uncovered and self.checkpoints:
            first = self.covered + 1
            lines.append(
                f"UNVERIFIED: {self.uncovered} entries (seqs {first}..{self.chain.count}) come after the newest signed"
                f" checkpoint that holds (size {self.covered}); no signature covers them"
            )
        return lines


def write_export(directory: str | Path, rows: Iterable[Row], checkpoints: Iterable[str], vkey: str) -> Path:
    """Write an export of `(seq, canonical bytes, hash)` rows and checkpoint notes to an empty directory."""
    root = Path(directory)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty: stale files would join the export")
    (root / CHECKPOINTS).mkdir(parents=True)
    with open(root / ENTRIES, "wb") as out:
        for seq, body, stored in rows:
            # Canonical bytes are a JSON object already; writing them as they are keeps the
            # export faithful even to a tampered row, which the verifier must then catch.
            out.write(format_record(seq, body, stored))
    for number, note in enumerate(checkpoints, 1):
        (root / CHECKPOINTS / f"checkpoint-{number:04d}.note").write_text(note, encoding="utf-8")
    (root / PUBLIC_KEY).write_text(vkey + "\n", encoding="utf-8")
    (root / "README.txt").write_text(_README.format(directory=root.name), encoding="utf-8")
    copy_verifier(root / VERIFIER_DIR)
    return root


def copy_verifier(target: str | Path) -> Path:
    """Copy the standalone verifier package (the pure modules and a __main__) into `target`."""
    target, here = Path(target), Path(__file__).parent
    target.mkdir(parents=True, exist_ok=True)
    for name in SHIPPED:
        shutil.copyfile(here / name, target / name)
    (target / "__init__.py").write_text(_INIT, encoding="utf-8")
    (target / "__main__.py").write_text(_MAIN, encoding="utf-8")
    return target


def verify_export(directory: str | Path, vkey: str, kept: Sequence[Path] = ()) -> ExportReport:
    """Check an export's chain and checkpoints, and the checkpoints the auditor kept, against a verifier key."""
    root = Path(directory)
    parse_verifier_key(vkey)  # a malformed key is a usage error, not a finding about the export
    notes = [(path.name, path.read_bytes()) for path in sorted((root / CHECKPOINTS).glob("*.note"))]
    audit = CheckpointAudit(notes, vkey, [(f"{KEPT_PREFIX}{path}", path.read_bytes()) for path in kept])
    rows = _ExportRows(root / ENTRIES, audit)
    chain = verify_chain(rows)
    if not chain.ok and rows.error is not None and rows.error[0] == chain.bad_seq:
        chain = replace(chain, reason=rows.error[1], detail=rows.error[2])
    # Roots are only trusted over entries the chain verified before its first break.
    trusted = chain.count if chain.ok else min(chain.count, chain.bad_seq - 1)
    return ExportReport(chain, audit.results(trusted, complete=chain.ok))


class _ExportRows:
    """The rows of entries.jsonl, each line read in its one exact form, each hash fed to the audit."""

    def __init__(self, path: Path, audit: CheckpointAudit) -> None:
        self.path, self.audit = path, audit
        self.error: tuple[int, str, str] | None = None

    def __iter__(self) -> Iterator[Row]:
        last = 0
        with open(self.path, "rb") as lines:
            for number, line in enumerate(lines, 1):
                try:
                    seq, body, stored = parse_record(line)
                except RecordError as exc:
                    # Named by position: the seq this line should have held, whatever it claims.
                    self.error = (last + 1, exc.reason, f"line {number}: {exc}")
                    yield last + 1, b"", b""  # a row that cannot verify, so the chain stops here
                    return
                self.audit.add(stored)
                last = seq
                yield seq, body, stored


def main(argv: list[str] | None = None) -> int:
    """Command line: verify an export directory; exit 0 intact, 1 tampered or uncovered, 2 bad usage."""
    parser = argparse.ArgumentParser(prog="python -m verifier", description="Verify a bookings-ledger export.")
    parser.add_argument("directory", type=Path, help="the export directory (holding entries.jsonl)")
    parser.add_argument("--key", required=True, help="the log's verifier key string, obtained out of band")
    parser.add_argument(
        "--checkpoint", dest="kept", action="append", type=Path, default=[], metavar="FILE",
        help="a checkpoint note you kept (from an earlier export, or this one's newest); repeatable",
    )
    args = parser.parse_args(argv)
    problem = _usage_problem(args.directory, args.kept)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        report = verify_export(args.directory, args.key, args.kept)
    except NoteError as exc:
        print(f"error: --key: {exc}", file=sys.stderr)
        return 2
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


def _usage_problem(directory: Path, kept: Iterable[Path]) -> str | None:
    if not (directory / ENTRIES).is_file():
        return f"{directory} holds no {ENTRIES}"
    missing = [str(path) for path in kept if not path.is_file()]
    return f"--checkpoint: no such file {', '.join(missing)}" if missing else None


if __name__ == "__main__":
    raise SystemExit(main())
