"""A privacy officer's errands in a real browser: sign in, find a subject, read its timeline and a
record, see its personal data with a reason (recorded), hold it and release it, and take the record
of processing activities away as CSV. Every page met is screenshotted and checked by axe-core."""
from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import expect

from browser_checks import assert_accessible
from browser_steps import hold_row, place_hold, release_hold, search_subject, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-journeys")]


def test_signing_in_with_the_local_password_opens_the_overview(new_page, live_service):
    page = new_page()
    page.goto("/")
    page.wait_for_url(re.compile(r"/sign-in"))  # anonymous: sent to sign in
    assert_accessible(page, "sign-in")
    sign_in(page, "officer", live_service.password)
    page.wait_for_url(f"{live_service.base_url}/")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert_accessible(page, "overview")


def test_a_wrong_password_is_refused(new_page, live_service, console_errors):
    page = new_page()
    sign_in(page, "officer", live_service.password + "-wrong")
    expect(page.get_by_label("Password")).to_be_visible()  # still on the sign-in form
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    console_errors.forgive("status of 401")  # the refusal itself, which Chromium logs as an error


def test_a_subject_found_by_email_shows_its_timeline_and_records(officer_page, live_service):
    page = officer_page
    ref = search_subject(page, live_service.subject_email)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Subject {ref}")
    expect(page.get_by_role("heading", level=2, name="Timeline")).to_be_visible()
    timeline = page.locator("table", has=page.locator("th", has_text="kind"))
    # A row of an entry has its four cells (seq, time, kind, summary); "No entries." spans them.
    assert timeline.locator("tbody tr td:nth-child(4)").count() >= 1, "the timeline lists no ledger entry"
    assert live_service.subject_email not in page.content(), "the timeline shows the email in clear"
    assert_accessible(page, "subject")

    page.locator("main a[href^='/records/']").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Record \S+ \S+$"))
    expect(page.get_by_role("heading", level=2, name="Surfaces in Bookings")).to_be_visible()
    assert_accessible(page, "record")


def test_personal_data_is_shown_with_a_reason_and_the_view_is_recorded(officer_page, live_service):
    page = officer_page
    ref = search_subject(page, live_service.subject_email)
    viewed_before = live_service.entries_of_kind("viewed")
    page.get_by_label("Reason").fill("Checking an access request")
    page.get_by_role("button", name="Show personal data").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Personal data of {ref}")
    expect(page.locator("main")).to_contain_text(re.compile(re.escape(live_service.subject_email), re.IGNORECASE))
    assert live_service.entries_of_kind("viewed") == viewed_before + 1, "no `viewed` entry for the clear view"
    assert_accessible(page, "personal-data")


def test_a_hold_is_placed_on_a_subject_and_released(officer_page, live_service):
    page = officer_page
    ref = search_subject(page, live_service.subject_email)
    place_hold(page, "subject", ref, "Litigation notice received")
    expect(hold_row(page, ref).get_by_role("button", name="Release")).to_be_visible()
    assert_accessible(page, "holds-active")
    release_hold(page, ref, "Litigation settled")
    expect(hold_row(page, ref).get_by_role("button", name="Release")).to_have_count(0)


def test_the_record_of_processing_activities_downloads_as_csv(officer_page):
    page = officer_page
    page.goto("/processing-record")
    expect(page.get_by_role("heading", level=1)).to_have_text("Record of processing activities")
    assert_accessible(page, "processing-record")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    rows = list(csv.reader(io.StringIO(download.path().read_text(encoding="utf-8-sig"))))
    assert len(rows) >= 2, "the CSV has no activity under its header"
    assert all(len(row) == len(rows[0]) for row in rows), "the CSV's rows do not match its header"
