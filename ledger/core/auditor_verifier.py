"""The auditor's verifier: writes and checks a ledger export, and runs standalone.

An export directory holds
    entries.jsonl     one entry a line: {"seq": N, "hash": "<hex entry hash>", "entry": {...}}
    checkpoints/      signed tlog-checkpoint notes, *.note
    public-key.txt    the log's verifier key string
    verifier/         this module and its pure siblings, runnable as `python -m verifier`
    README.txt        how to run it

`cd EXPORT_DIR && python -m verifier . --key "<verifier key>"` needs Python 3.11 and
`cryptography` only; it exits 0 when the export is intact, 1 when it was tampered with (naming the
first bad sequence number or the bad checkpoint), 2 on bad usage. Pass the key you obtained from
the operator out of band: the copy in public-key.txt is a convenience, not a trust anchor.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from .canonical import canonical_bytes
from .chain import ChainReport, Row, verify_chain
from .checkpoints import CheckpointAudit, CheckpointResult
from .signed_notes import NoteError, parse_verifier_key

ENTRIES = "entries.jsonl"
CHECKPOINTS = "checkpoints"
PUBLIC_KEY = "public-key.txt"
VERIFIER_DIR = "verifier"
MALFORMED_LINE = "malformed line"
# The modules that make up the standalone verifier; none imports anything else of the project.
SHIPPED = ("canonical.py", "chain.py", "merkle.py", "signed_notes.py", "checkpoints.py", "auditor_verifier.py")
_INIT = '"""The bookings-ledger export verifier (a copy of the pure ledger modules)."""\n'
_MAIN = '"""python -m verifier EXPORT_DIR --key VKEY"""\nfrom .auditor_verifier import main\n\nraise SystemExit(main())\n'
_README = """This is an export of a bookings-ledger compliance ledger (format: docs/ledger-format.md).
Check it with Python 3.11+ and the `cryptography` package:

    cd {directory}
    python -m verifier . --key "<the log's verifier key, obtained from its operator>"

Exit status 0: intact. 1: tampered with (the first bad seq or checkpoint is named). 2: bad usage.
"""


@dataclass(frozen=True)
class ExportReport:
    """The verdict on an export: the chain walk and every checkpoint."""

    chain: ChainReport
    checkpoints: list[CheckpointResult]

    @property
    def ok(self) -> bool:
        """True when the chain and every checkpoint hold, and at least one checkpoint exists."""
        # Without a signed checkpoint nothing ties the entries to the log's key: anyone could
        # have written a fresh, self-consistent chain.
        return self.chain.ok and bool(self.checkpoints) and all(result.ok for result in self.checkpoints)

    def lines(self) -> list[str]:
        """What to print: one line when intact, one per problem otherwise."""
        if self.ok:
            covered = max((result.checkpoint.size for result in self.checkpoints), default=0)
            return [
                f"intact: {self.chain.count} entries, {len(self.checkpoints)} checkpoints verified"
                f" (the latest covers {covered} entries), last hash {self.chain.last_hash.hex()}"
            ]
        lines = [] if self.chain.ok else [f"TAMPERED: {self.chain.summary()}"]
        if not self.checkpoints:
            lines.append(f"TAMPERED: no signed checkpoint in {CHECKPOINTS}/ vouches for the entries")
        return lines + [f"TAMPERED: {result.summary()}" for result in self.checkpoints if not result.ok]


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
            out.write(b'{"seq":%d,"hash":"%s","entry":%s}\n' % (seq, stored.hex().encode(), body))
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


def verify_export(directory: str | Path, vkey: str) -> ExportReport:
    """Check an export's chain and checkpoints against a verifier key string."""
    root = Path(directory)
    parse_verifier_key(vkey)  # a malformed key is a usage error, not a finding about the export
    notes = [(path.name, path.read_bytes()) for path in sorted((root / CHECKPOINTS).glob("*.note"))]
    audit = CheckpointAudit(notes, vkey)
    rows = _ExportRows(root / ENTRIES, audit)
    chain = verify_chain(rows)
    if not chain.ok and rows.error is not None and rows.error[0] == chain.bad_seq:
        chain = replace(chain, reason=MALFORMED_LINE, detail=rows.error[1])
    # Roots are only trusted over entries the chain verified before its first break.
    trusted = chain.count if chain.ok else min(chain.count, chain.bad_seq - 1)
    return ExportReport(chain, audit.results(trusted))


class _ExportRows:
    """The rows of entries.jsonl with recomputed canonical bytes, each hash fed to the audit."""

    def __init__(self, path: Path, audit: CheckpointAudit) -> None:
        self.path, self.audit = path, audit
        self.error: tuple[int, str] | None = None

    def __iter__(self) -> Iterator[Row]:
        last = 0
        with open(self.path, "rb") as lines:
            for number, line in enumerate(lines, 1):
                try:
                    seq, body, stored = _parse_line(line)
                except (ValueError, KeyError, TypeError) as exc:
                    self.error = (last + 1, f"line {number} is not an entry record: {exc}")
                    yield last + 1, b"", b""  # a row that cannot verify, so the chain stops here
                    return
                self.audit.add(stored)
                last = seq
                yield seq, body, stored


def _parse_line(line: bytes) -> Row:
    record = json.loads(line)
    seq, entry = record["seq"], record["entry"]
    if type(seq) is not int or not isinstance(entry, dict):
        raise ValueError("seq must be an integer and entry an object")
    return seq, canonical_bytes(entry), bytes.fromhex(record["hash"])


def main(argv: list[str] | None = None) -> int:
    """Command line: verify an export directory; exit 0 intact, 1 tampered, 2 bad usage."""
    parser = argparse.ArgumentParser(prog="python -m verifier", description="Verify a bookings-ledger export.")
    parser.add_argument("directory", type=Path, help="the export directory (holding entries.jsonl)")
    parser.add_argument("--key", required=True, help="the log's verifier key string, obtained out of band")
    args = parser.parse_args(argv)
    if not (args.directory / ENTRIES).is_file():
        print(f"error: {args.directory} holds no {ENTRIES}", file=sys.stderr)
        return 2
    try:
        report = verify_export(args.directory, args.key)
    except NoteError as exc:
        print(f"error: --key: {exc}", file=sys.stderr)
        return 2
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
