"""The export directory and the standalone verifier an auditor runs on it."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.core.auditor_verifier import CHECKPOINTS, ENTRIES, SHIPPED, main, verify_export, write_export

from .factories import OTHER_VKEY, VKEY, build_rows, checkpoint_for

COUNT = 12


@pytest.fixture
def export(tmp_path: Path) -> Path:
    """An export of a 12-entry chain with checkpoints at sizes 5 and 12."""
    rows = build_rows(COUNT)
    return write_export(tmp_path / "export", rows, [checkpoint_for(rows, 5), checkpoint_for(rows, COUNT)], VKEY)


def _edit_line(export: Path, seq: int, edit) -> None:  # noqa: ANN001
    path = export / ENTRIES
    lines = path.read_bytes().splitlines(keepends=True)
    lines[seq - 1 : seq] = edit(lines[seq - 1])
    path.write_bytes(b"".join(lines))


def _run(export: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main([str(export), *args])
    return code, capsys.readouterr().out


def test_an_untouched_export_verifies(export: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Write then verify: exit 0 and one line saying how much was checked."""
    report = verify_export(export, VKEY)
    assert report.ok and report.chain.count == COUNT and len(report.checkpoints) == 2
    code, out = _run(export, "--key", VKEY, capsys=capsys)
    assert code == 0 and out.startswith(f"intact: {COUNT} entries, 2 checkpoints")


@pytest.mark.parametrize(
    ("edit", "seq"),
    [
        (lambda line: [line.replace(b'"collected"', b'"cancelled"')], 4),
        (lambda line: [line.replace(b'"hash":"', b'"hash":"00')], 7),
        (lambda line: [], 3),
        (lambda line: [b"not json\n"], 9),
        (lambda line: [line.replace(b'"fields":[', b'"fields":[1.5,')], 2),
        (lambda line: [line, line], 6),
    ],
    ids=["body", "hash", "deleted", "garbage", "float", "duplicated"],
)
def test_a_tampered_line_fails_naming_its_seq(export: Path, edit, seq: int, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    """Any edit to entries.jsonl exits 1 and names the first bad sequence number."""
    _edit_line(export, seq, edit)
    assert verify_export(export, VKEY).chain.bad_seq == seq
    code, out = _run(export, "--key", VKEY, capsys=capsys)
    assert code == 1 and f"broken at seq {seq} " in out


def test_a_truncated_export_fails_its_checkpoint(export: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Dropping the last entries leaves a valid chain, but the checkpoint covering them fails."""
    for seq in (COUNT, COUNT - 1):
        _edit_line(export, seq, lambda line: [])
    code, out = _run(export, "--key", VKEY, capsys=capsys)
    assert code == 1 and "truncated log" in out and "checkpoint-0002.note" in out


def test_a_wrong_key_fails(export: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Checkpoints signed by another key than the one the auditor trusts are rejected."""
    code, out = _run(export, "--key", OTHER_VKEY, capsys=capsys)
    assert code == 1 and out.count("wrong key") == 2


def test_an_export_without_checkpoints_fails(export: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Removing the checkpoints leaves nothing that ties the entries to the key."""
    for note in (export / CHECKPOINTS).iterdir():
        note.unlink()
    code, out = _run(export, "--key", VKEY, capsys=capsys)
    assert code == 1 and "no signed checkpoint" in out


@pytest.mark.parametrize("args", [[], ["--key", "not-a-key"], ["--key", VKEY, "--bogus"]])
def test_bad_usage_exits_2(export: Path, args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """A missing or malformed key, or an unknown option, is a usage error."""
    try:
        code = main([str(export), *args])
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    assert code == 2


def test_a_directory_without_entries_exits_2(tmp_path: Path) -> None:
    """Pointing the verifier at something that is not an export is a usage error."""
    assert main([str(tmp_path), "--key", VKEY]) == 2


def test_exports_go_only_into_an_empty_directory(export: Path) -> None:
    """Writing over an old export could mix in stale checkpoints, so it is refused."""
    with pytest.raises(FileExistsError):
        write_export(export, [], [], VKEY)


def test_shipped_modules_import_only_the_standard_library_and_cryptography() -> None:
    """Every absolute import of the shipped modules is stdlib or cryptography."""
    for name in SHIPPED:
        tree = ast.parse((Path(__file__).parents[2] / "ledger" / "core" / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = [node.module.split(".")[0]]
            else:
                continue
            assert all(root in sys.stdlib_module_names | {"cryptography"} for root in roots), (name, roots)


def _standalone(export: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # Shadow the project's packages so that any import of them from the copy fails loudly.
    blocker = tmp_path / "blocker"
    for package in ("ledger", "config", "bookings_ledger"):
        (blocker / package).mkdir(parents=True, exist_ok=True)
        (blocker / package / "__init__.py").write_text("raise ImportError('the verifier imported the project')\n")
    env = {**os.environ, "PYTHONPATH": str(blocker)}
    return subprocess.run(
        [sys.executable, "-m", "verifier", ".", "--key", VKEY],
        cwd=export, env=env, capture_output=True, text=True, timeout=60, check=False,
    )


def test_the_copied_verifier_runs_on_its_own(export: Path, tmp_path: Path) -> None:
    """`python -m verifier` inside the export works with the project out of reach."""
    assert sorted(path.name for path in (export / "verifier").glob("*.py")) == sorted(
        [*SHIPPED, "__init__.py", "__main__.py"]
    )
    intact = _standalone(export, tmp_path)
    assert intact.returncode == 0, intact.stderr
    assert intact.stdout.startswith(f"intact: {COUNT} entries")
    _edit_line(export, 5, lambda line: [line.replace(b'"collected"', b'"anonymised"')])
    tampered = _standalone(export, tmp_path)
    assert tampered.returncode == 1, tampered.stderr
    assert "broken at seq 5 (modified body)" in tampered.stdout
