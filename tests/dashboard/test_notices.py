"""The privacy notice: the version in force with its SHA-256 for the officer and the auditor, the
versions the ledger recorded, and the text for anyone as a plain page with nothing from outside."""
from __future__ import annotations

import hashlib

import pytest

from bookings_ledger.app import DASHBOARD, close_app, create_app
from config.settings import DEFAULT_PRIVACY_NOTICE, SettingsError
from dashboard.notices import blocks_of
from tests.dashboard.other_parts_endpoints import add_missing_endpoints

SHA256 = hashlib.sha256(DEFAULT_PRIVACY_NOTICE.read_bytes()).hexdigest()


@pytest.fixture(autouse=True)
def _layout_links(dashboard_app):
    add_missing_endpoints(dashboard_app)


def test_the_notices_page_shows_the_notice_in_force(dashboard, auditor):
    body = auditor.get("/notices").get_data(as_text=True)
    assert f"<code>{dashboard.policy.notice_version}</code>" in body and f"<code>{SHA256}</code>" in body
    assert "February 26, 2024" in body and 'href="/privacy-notice"' in body
    assert "not yet recorded in the ledger" in body and "None yet" in body


def test_the_versions_recorded_in_the_ledger_are_listed_and_the_one_in_force_marked(dashboard, officer):
    with dashboard.ledger.transaction() as tx:
        tx.append("notice-changed", notice_version="2023-05-01", sha256="ab" * 32, material=False,
                  effective_from="2023-05-01T00:00:00.000000Z")
        tx.append("notice-changed", notice_version=dashboard.policy.notice_version, sha256=SHA256, material=True,
                  effective_from="2024-02-26T00:00:00.000000Z")
    body = officer.get("/notices").get_data(as_text=True)
    versions = body.split("<h2>Versions recorded</h2>")[1]
    assert versions.index(SHA256) < versions.index("ab" * 32)           # newest first
    assert f"<code>{dashboard.policy.notice_version}</code> (in force)" in versions
    assert "yes: subjects whose data is held are told" in versions and "seq 2" in versions
    assert "not yet recorded" not in body


def test_anyone_reads_the_notice_as_a_page_escaped_with_nothing_from_outside(dashboard_app):
    answer = dashboard_app.test_client().get("/privacy-notice")
    body = answer.get_data(as_text=True)
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    assert "<h1>Privacy notice</h1>" in body and "Version 2024-02-26, last updated February 26, 2024." in body
    assert "<p>How do we handle children’s information?</p>" in body
    assert "<li>Booking information: This includes your name" in body
    assert "OWNED &amp; OPERATED" in body                                 # escaped, not raw
    assert "http://" not in body.replace("http://www.w3.org", "") and "https://" not in body
    assert "<script" not in body and "Sign out" not in body


def test_the_notice_text_is_escaped(dashboard_settings, tmp_path):
    notice = tmp_path / "notice.txt"
    notice.write_text("Our notice <script>alert(1)</script>\n\n• one\n\n• two\n\nLast updated: 1 May 2026\n", encoding="utf-8")
    from database.engine import create_ledger_engine, upgrade
    upgrade(create_ledger_engine(dashboard_settings["DATABASE_URL"]))
    app = create_app({**dashboard_settings, "PRIVACY_NOTICE_FILE": str(notice)}, surfaces=frozenset({DASHBOARD}))
    try:
        add_missing_endpoints(app)
        body = app.test_client().get("/privacy-notice").get_data(as_text=True)
    finally:
        close_app(app)
    assert "<p>Our notice &lt;script&gt;alert(1)&lt;/script&gt;</p>" in body and "<script>" not in body
    assert "<ul><li>one</li><li>two</li></ul>" in body and "last updated 1 May 2026" in body


def test_paragraphs_and_bullets_are_read_from_blank_line_separated_text():
    blocks = blocks_of("Title\n\nA paragraph\nwrapped.\n\n  • one\n\n  • two\n\nAfter.")
    assert [(b.bulleted, b.items) for b in blocks] == [
        (False, ("Title",)), (False, ("A paragraph wrapped.",)), (True, ("one", "two")), (False, ("After.",))]


def test_a_missing_notice_file_stops_the_start_naming_the_setting(dashboard_app, dashboard_settings, tmp_path):
    with pytest.raises(SettingsError, match="setting PRIVACY_NOTICE_FILE: cannot read .*missing.txt"):
        create_app({**dashboard_settings, "PRIVACY_NOTICE_FILE": str(tmp_path / "missing.txt")},
                   surfaces=frozenset({DASHBOARD}))
