"""`make bench`'s table: every benchmark reports its figures, a crash is told apart from a missed
target, and the Markdown kept in docs/performance.md renders every row with the machine."""
from __future__ import annotations

import ast
import io
import textwrap
from pathlib import Path

import pytest
from rich.console import Console

from bench.support.bench_table import BenchRun, markdown, rich_table
from bench.support.figures import FIGURES_FILE, Figure, read_figures, report
from bench.support.run_all import PARTS, benches, run

ROOT = Path(__file__).parents[1]
BENCHES = sorted((ROOT / "bench").glob("*.py"))
ROWS = [Figure("ledger", "verify vs raw hashlib.sha256", ">= 0.5 of raw", "1,200,000 entries/s", 0.61, True),
        Figure("emulator", "calendarView | paged", "median latency <= 1.5x baseline", "2.10 ms", 1.71, False),
        Figure("requests", "access: time vs reading back", "", "0.45 s", None, None)]


def calls_report(path: Path) -> bool:
    return any(isinstance(node, ast.Call) and getattr(node.func, "id", None) == "report"
               for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))))


@pytest.mark.parametrize("script", BENCHES, ids=[script.name for script in BENCHES])
def test_every_bench_reports_its_figures(script: Path):
    """A bench that does not call `report(...)` would be missing from the table."""
    assert calls_report(script), f"{script.name} prints figures but never calls report([...Figure...])"


def test_make_bench_runs_every_bench_but_the_parts_of_another():
    """Each part is measured inside the bench named for it, so it is neither lost nor measured twice."""
    names = {script.stem for script in benches(None)}
    assert names == {script.stem for script in BENCHES} - set(PARTS)
    assert set(PARTS.values()) <= names and set(PARTS) <= {script.stem for script in BENCHES}


def test_figures_reported_through_the_file_come_back_as_rows(tmp_path, monkeypatch, capsys):
    """What one bench process appends, run_all reads back unchanged."""
    monkeypatch.setenv(FIGURES_FILE, str(tmp_path / "figures.jsonl"))
    report(ROWS[:2])
    report(ROWS[2:])
    assert read_figures(str(tmp_path / "figures.jsonl")) == ROWS
    assert "MISSED" in capsys.readouterr().out


def test_markdown_holds_every_row_the_machine_and_what_was_missed():
    runs = [BenchRun("ledger", 0, 301.4, 1), BenchRun("emulator", 0, 62.0, 1), BenchRun("freshness", 1, 12.0, 0)]
    text = markdown(ROWS, runs, "Intel Xeon x 2, 23.4 GiB, Python 3.11.7, PostgreSQL 15.19", "make bench")
    lines = text.splitlines()
    assert lines[0] == "Command: `make bench`"
    assert "Machine: Intel Xeon x 2, 23.4 GiB, Python 3.11.7, PostgreSQL 15.19" in lines
    table = [line for line in lines if line.startswith("|")]
    assert table[0] == "| bench | figure | target | measured | ratio to baseline | met |"
    assert table[2] == "| ledger | verify vs raw hashlib.sha256 | >= 0.5 of raw | 1,200,000 entries/s | 0.61 | met |"
    assert table[3] == "| emulator | calendarView \\| paged | median latency <= 1.5x baseline | 2.10 ms | 1.71 | MISSED |"
    assert table[4] == "| requests | access: time vs reading back |  | 0.45 s |  |  |"
    assert "Wall time per bench: ledger 301 s, emulator 62 s, freshness 12 s." in lines
    assert "Crashed: freshness (exit 1)." in lines
    assert lines[-1] == "3 figures, 1 targets missed: emulator calendarView | paged."
    assert "Not run yet" not in text


def test_markdown_written_part_way_names_the_benches_still_to_run():
    text = markdown(ROWS[:1], [BenchRun("ledger", 0, 301.4, 1)], "a machine", "make bench", ["requests", "retention"])
    assert "Not run yet: requests, retention." in text.splitlines()


def test_rich_table_prints_every_row():
    out = io.StringIO()
    Console(file=out, width=240).print(rich_table(ROWS, "make bench"))
    printed = out.getvalue()
    for figure in ROWS:
        assert figure.name in printed and figure.measured in printed
    assert "MISSED" in printed and "0.61" in printed


BENCH_THAT = {
    "reports": "report([Figure('probe', 'a figure', '0', '0', None, False)])",
    "crashes": "report([Figure('probe', 'a figure', '0', '0', None, True)]); raise RuntimeError('no database')",
    "skips the table": "print('a figure: 0')",
}


@pytest.mark.parametrize(("behaviour", "crashed"), [("reports", False), ("crashes", True), ("skips the table", True)])
def test_a_missed_target_is_reported_and_a_crash_or_no_figures_is_a_crash(tmp_path, behaviour, crashed):
    """Each bench runs in a real process of its own; only a bench that could not measure fails make bench."""
    script = tmp_path / "probe.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from bench.support.figures import Figure, report
        {BENCH_THAT[behaviour]}
    """))
    ended, figures = run(script, tmp_path / "probe.jsonl")
    assert ended.crashed is crashed
    assert len(figures) == (0 if behaviour == "skips the table" else 1)
