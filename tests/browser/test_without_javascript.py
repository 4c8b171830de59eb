"""Every action works as plain HTML forms: with JavaScript disabled in the browser, sign in, search
a subject, place a hold and release it."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from browser_steps import hold_row, place_hold, release_hold, search_subject, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-without_javascript")]


def test_sign_in_search_and_holds_work_without_javascript(new_page, live_service):
    page = new_page(java_script_enabled=False)
    sign_in(page, "officer", live_service.password)
    page.wait_for_url(f"{live_service.base_url}/")
    ref = search_subject(page, live_service.subject_email)
    place_hold(page, "subject", ref, "Held while a complaint is open")
    expect(hold_row(page, ref).get_by_role("button", name="Release")).to_be_visible()
    release_hold(page, ref, "Complaint closed")
    expect(hold_row(page, ref).get_by_role("button", name="Release")).to_have_count(0)
