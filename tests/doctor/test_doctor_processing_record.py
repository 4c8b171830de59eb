"""`doctor` on the record of processing activities' file: the shipped examples warn, a broken file
fails naming the field, a filled-in one passes."""
from __future__ import annotations

import re
from pathlib import Path

SHIPPED = Path(__file__).parents[2] / "config" / "processing-record.toml"


def filled_in(tmp_path: Path) -> Path:
    """The shipped file with every example marker removed and contains_examples off."""
    text = re.sub(r"\s*\(example[^)]*\)", "", SHIPPED.read_text(encoding="utf-8"))
    path = tmp_path / "processing-record.toml"
    path.write_text(text.replace("contains_examples = true", "contains_examples = false"), encoding="utf-8")
    return path


def test_the_shipped_examples_warn(environment, doctor):
    """The file as shipped: a warning that names what to do (the service runs meanwhile)."""
    line = doctor().line("processing record")
    assert line["status"] == "warn" and "examples" in line["found"] and "contains_examples = false" in line["fix"]


def test_a_filled_in_record_passes(environment, doctor, monkeypatch, tmp_path):
    """Every example replaced and contains_examples off: ok."""
    monkeypatch.setenv("PROCESSING_RECORD_FILE", str(filled_in(tmp_path)))
    assert doctor().line("processing record")["status"] == "ok"


def test_an_example_left_behind_still_warns(environment, doctor, monkeypatch, tmp_path):
    """contains_examples set to false too early: a marker left in a value still warns."""
    path = filled_in(tmp_path)
    path.write_text(path.read_text(encoding="utf-8").replace('name = "', 'name = "(example) ', 1), encoding="utf-8")
    monkeypatch.setenv("PROCESSING_RECORD_FILE", str(path))
    assert doctor().line("processing record")["status"] == "warn"


def test_a_broken_record_is_one_failure_naming_the_field(environment, doctor, monkeypatch, tmp_path):
    """A misspelt table: one FAIL naming the setting, no traceback."""
    path = filled_in(tmp_path)
    path.write_text(path.read_text(encoding="utf-8").replace("[controller]", "[controllr]"), encoding="utf-8")
    monkeypatch.setenv("PROCESSING_RECORD_FILE", str(path))
    checklist = doctor()
    assert [line["check"] for line in checklist.failed()] == ["processing record"], checklist.output
    assert "PROCESSING_RECORD_FILE" in checklist.line("processing record")["found"]
