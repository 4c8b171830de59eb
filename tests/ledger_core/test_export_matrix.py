"""The auditor's verifier on a matrix of tampered exports: each gives its verdict and names the seq.

Every case is an attack an outside auditor tried: forms the document forbids, a cut tail (with
and without its newest checkpoint), a history rewritten and re-signed with the real key, a swap.
The kept checkpoints are what the auditor saved from an earlier look at the same log.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from ledger.core import canonical
from ledger.core.auditor_verifier import CHECKPOINTS, ENTRIES, main, verify_export, write_export
from ledger.core.export_records import format_record

from .factories import SEED, VKEY, build_rows, chain_of, checkpoint_for, make_entry

COUNT = 12


@pytest.fixture
def rows() -> list:
    return build_rows(COUNT)


@pytest.fixture
def export(tmp_path: Path, rows: list) -> Path:
    """An export of 12 entries with checkpoints at sizes 5 and 12 (the last covers every entry)."""
    return write_export(tmp_path / "export", rows, [checkpoint_for(rows, 5), checkpoint_for(rows, COUNT)], VKEY)


@pytest.fixture
def kept(tmp_path: Path, rows: list) -> list[Path]:
    """The checkpoints of sizes 5 and 12 the auditor kept from an earlier look at this log."""
    paths = []
    for size in (5, COUNT):
        path = tmp_path / f"kept-{size}.note"
        path.write_text(checkpoint_for(rows, size))
        paths.append(path)
    return paths


def _lines(export: Path) -> list[bytes]:
    return (export / ENTRIES).read_bytes().splitlines(keepends=True)


def _write(export: Path, lines: list[bytes]) -> None:
    (export / ENTRIES).write_bytes(b"".join(lines))


def _edit(export: Path, seq: int, old: bytes, new: bytes) -> None:
    lines = _lines(export)
    assert old in lines[seq - 1], (old, lines[seq - 1])
    lines[seq - 1] = lines[seq - 1].replace(old, new, 1)
    _write(export, lines)


def _run(export: Path, capsys: pytest.CaptureFixture[str], kept: list[Path] = ()) -> tuple[int, str]:
    args = [str(export), "--key", VKEY]
    for path in kept:
        args += ["--checkpoint", str(path)]
    code = main(args)
    return code, capsys.readouterr().out


FORBIDDEN_FORMS = [
    # (what, seq, bytes in the line, replacement, what the verdict must say)
    ("duplicate key at the top level", 4, b'"entry":{', b'"entry":{"kind":"erased",', "duplicate key 'kind'"),
    ("duplicate key nested", 6, b'"refs":{', b'"refs":{"appointment":"AAMk-1",', "duplicate key 'appointment'"),
    ("duplicate key of the record", 3, b'{"seq":3,', b'{"seq":3,"seq":3,', "duplicate key 'seq'"),
    ("a non-string kind", 2, b'"kind":"collected"', b'"kind":5', "member kind must be a non-empty string"),
    ("a numeric time", 7, b'"time":"2025-01-01T00:00:07.000007Z"', b'"time":1735689607', "member time must be"),
    ("a time without microseconds", 8, b'"time":"2025-01-01T00:00:08.000008Z"', b'"time":"2025-01-01T00:00:08Z"', "member time must be"),
    ("an impossible date", 8, b'"time":"2025-01-01T', b'"time":"2025-02-30T', "member time must be"),
    ("a boolean format version", 5, b'"v":1', b'"v":true', "member v must be one of the format versions"),
    ("an unknown format version", 5, b'"v":1', b'"v":9', "member v must be one of the format versions"),
    ("a string seq in the record", 9, b'{"seq":9,', b'{"seq":"9",', "member seq must be an integer"),
    ("a string seq in the entry", 9, b'"seq":9,"subject"', b'"seq":"9","subject"', "member seq must be an integer"),
    ("uppercase hex", 10, b'"hash":"', b'"hash":"', "64 lowercase hex digits"),  # the case is changed below
    ("white space", 11, b'{"seq":11,', b'{"seq": 11,', "not in canonical form"),
    ("a member the record may not have", 4, b'{"seq":4,', b'{"seq":4,"note":"x",', "exactly seq, hash and entry"),
    ("an escaped character written differently", 3, b'"subject":"subj-0003"', b'"subject":"subj-\\u0030003"', "not in canonical form"),
    ("a fraction", 2, b'"fields":[', b'"fields":[1.5,', "numbers must be integers"),
]


@pytest.mark.parametrize(("what", "seq", "old", "new", "says"), FORBIDDEN_FORMS, ids=[case[0] for case in FORBIDDEN_FORMS])
def test_every_form_the_document_forbids_is_refused_naming_its_seq(export, capsys, what, seq, old, new, says) -> None:
    """Each forbidden form fails with exit 1, names the seq of its line and says what is wrong."""
    if what == "uppercase hex":
        line = _lines(export)[seq - 1]
        digest = line.split(b'"hash":"')[1][:64]
        assert digest.upper() != digest
        old, new = digest, digest.upper()
    _edit(export, seq, old, new)
    report = verify_export(export, VKEY)
    assert report.chain.bad_seq == seq and report.chain.reason == "malformed line"
    code, out = _run(export, capsys)
    assert code == 1 and f"broken at seq {seq} (malformed line)" in out and says in out, out
    assert "intact" not in out


def test_a_last_line_without_its_newline_is_refused(export, capsys) -> None:
    _write(export, _lines(export)[:-1] + [_lines(export)[-1].rstrip(b"\n")])
    code, out = _run(export, capsys)
    assert code == 1 and f"broken at seq {COUNT} (malformed line)" in out and "newline" in out


def test_a_new_format_version_is_accepted_once_it_joins_the_set(tmp_path, capsys, monkeypatch) -> None:
    """Versions that keep the encoding are one line in canonical.FORMAT_VERSIONS; unknown ones fail."""
    entries = [make_entry(seq) for seq in range(1, 4)]
    entries[2]["v"] = 2
    monkeypatch.setitem(canonical.FORMAT_VERSIONS, 2, ("v", "seq", "kind"))
    rows = chain_of(entries)
    export = write_export(tmp_path / "v2", rows, [checkpoint_for(rows, 3)], VKEY)
    assert _run(export, capsys)[0] == 0
    monkeypatch.delitem(canonical.FORMAT_VERSIONS, 2)
    code, out = _run(export, capsys)
    assert code == 1 and "broken at seq 3 (malformed line)" in out


def test_a_cut_tail_fails_the_newest_checkpoint_naming_the_missing_seq(export, capsys) -> None:
    """Deleting the last line: the export's final checkpoint covers every entry, so it says truncated."""
    _write(export, _lines(export)[:-1])
    code, out = _run(export, capsys)
    assert code == 1 and "truncated log" in out and f"seqs {COUNT}..{COUNT} are missing" in out
    assert "intact" not in out


def test_a_tail_cut_with_its_newest_checkpoint_is_caught_by_a_kept_checkpoint(export, kept, capsys) -> None:
    """Cut back to 5 entries and drop the checkpoint of 12: self-consistent, but the auditor kept it."""
    _write(export, _lines(export)[:5])
    (export / CHECKPOINTS / "checkpoint-0002.note").unlink()
    assert _run(export, capsys)[0] == 0  # what the export alone cannot show
    code, out = _run(export, capsys, kept)
    assert code == 1 and f"kept:{kept[1]}" in out and "truncated log" in out and "seqs 6..12 are missing" in out


def _rewrite_and_resign(export: Path, rows: list, seq: int) -> None:
    """The key holder rewrites entry `seq`, recomputes every later hash and re-signs the newest checkpoint."""
    entries = [make_entry(number) for number in range(1, COUNT + 1)]
    entries[seq - 1]["kind"] = "erased"
    forged = chain_of(entries)
    assert forged[: seq - 1] == rows[: seq - 1]
    _write(export, [line for number, line in enumerate(_lines(export), 1) if number < seq])
    with open(export / ENTRIES, "ab") as out:
        for row_seq, body, digest in forged[seq - 1 :]:
            out.write(format_record(row_seq, body, digest))
    (export / CHECKPOINTS / "checkpoint-0002.note").write_text(checkpoint_for(forged, COUNT, SEED))


def test_a_history_rewritten_and_resigned_is_caught_by_a_kept_checkpoint(export, rows, kept, capsys) -> None:
    """Signed with the real key, the rewrite passes alone; the kept checkpoints fork from it after seq 5."""
    _rewrite_and_resign(export, rows, 7)
    assert _run(export, capsys)[0] == 0  # what the export alone cannot show
    code, out = _run(export, capsys, kept)
    assert code == 1 and "equivocation" in out and "root mismatch" in out, out
    assert f"kept:{kept[1]}" in out and "an entry in seqs 6..12 differs from what was signed" in out
    assert f"kept:{kept[0]} " not in out  # the kept checkpoint of 5 still holds


def test_a_rewrite_with_only_the_newest_checkpoint_kept_is_bounded_by_its_size(export, rows, kept, capsys) -> None:
    _rewrite_and_resign(export, rows, 7)
    code, out = _run(export, capsys, kept[1:])
    assert code == 1 and "an entry in seqs 1..12 differs from what was signed" in out


def test_a_swap_is_named_as_a_reorder_not_a_gap(export, capsys) -> None:
    lines = _lines(export)
    lines[3], lines[4] = lines[4], lines[3]
    _write(export, lines)
    code, out = _run(export, capsys)
    assert code == 1 and "broken at seq 4 (reordered)" in out and "gap" not in out


def test_a_swap_of_entries_under_kept_line_numbers_is_a_reorder(export, capsys) -> None:
    """The entries swapped but each line's seq kept: the line of seq 4 holds the entry of seq 5."""
    lines = _lines(export)
    lines[3], lines[4] = lines[4].replace(b'{"seq":5,', b'{"seq":4,', 1), lines[3].replace(b'{"seq":4,', b'{"seq":5,', 1)
    _write(export, lines)
    code, out = _run(export, capsys)
    assert code == 1 and "broken at seq 4 (reordered)" in out and "holds the entry of seq 5" in out


def test_a_chain_break_adds_no_misleading_checkpoint_lines(export, capsys) -> None:
    """After a break, checkpoints past it are 'not checked', never 'truncated' or 'root mismatch'."""
    _edit(export, 3, b'"collected"', b'"cancelled"')
    code, out = _run(export, capsys)
    assert code == 1 and "broken at seq 3 (modified body)" in out
    assert "truncated" not in out and "mismatch" not in out
    assert out.count("TAMPERED") == 1 and "not checked" in out and "checkpoint-0001.note" in out


def test_entries_after_the_newest_checkpoint_are_unverified_never_intact(tmp_path, rows, capsys) -> None:
    """Two entries appended after the last signed checkpoint: a valid chain, but no signature covers them."""
    export = write_export(tmp_path / "longer", rows, [checkpoint_for(rows, 5), checkpoint_for(rows, 10)], VKEY)
    code, out = _run(export, capsys)
    assert code == 1 and "intact" not in out
    assert "UNVERIFIED: 2 entries (seqs 11..12)" in out and "size 10" in out
    assert not verify_export(export, VKEY).ok and verify_export(export, VKEY).uncovered == 2


def test_kept_checkpoints_that_agree_make_an_intact_verdict(export, kept, capsys) -> None:
    code, out = _run(export, capsys, kept)
    assert code == 0 and out.startswith(f"intact: {COUNT} entries, 4 checkpoints verified (2 kept by you)")


def test_a_missing_kept_checkpoint_file_is_bad_usage(export, tmp_path) -> None:
    assert main([str(export), "--key", VKEY, "--checkpoint", str(tmp_path / "nowhere.note")]) == 2
