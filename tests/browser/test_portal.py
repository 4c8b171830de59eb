"""The public privacy page in a real browser, with JavaScript off (the page has none to run): read
the notice, ask for erasure, enter the emailed code, open the status link once; and every page
passes axe-core and fits a phone. The mail is played by the test: it issues the challenge the page wanted,
through state.verification, as comms' mailer does before it mails the code."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from browser_checks import assert_accessible, horizontal_overflow
from conftest import PHONE
from state.verification import issue_challenge, wanted_challenges

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def mail_the_code(database_url: str) -> str:
    """Issue the one wanted challenge and return its code, as the verification mail would carry it."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with Session(engine) as session, session.begin():
            [(challenge, _request)] = wanted_challenges(session)
            return issue_challenge(session, challenge, datetime.now(timezone.utc), 15).code
    finally:
        engine.dispose()


def test_a_visitor_asks_for_erasure_verifies_by_code_and_sees_the_status_once(new_page, live_service, console_errors):
    page = new_page(java_script_enabled=False)
    page.goto("/privacy")
    expect(page.get_by_role("heading", name="Privacy", exact=True)).to_be_visible()
    page.get_by_role("link", name="Delete your data").click()
    page.get_by_label("Your email address").fill(live_service.subject_email)
    page.get_by_role("button", name="Send the request").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    page.get_by_label("The code from the email").fill("not-it")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text("That code did not work")).to_be_visible()
    page.get_by_label("The code from the email").fill(mail_the_code(live_service.database_url))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Thank you: your address is verified")).to_be_visible()
    assert live_service.entries_of_kind("request-verified") == 1
    page.get_by_role("link", name="See your request's status").click()
    status_url = page.url
    page.get_by_role("button", name="Show the status").click()
    expect(page.get_by_text("verified, waiting to be carried out")).to_be_visible()
    page.goto(status_url)
    page.get_by_role("button", name="Show the status").click()      # the link opened once already
    expect(page.get_by_text("This link does not open.")).to_be_visible()
    console_errors.forgive("status of 422")      # the wrong code, on purpose
    console_errors.forgive("status of 404")      # the spent link, on purpose


def test_the_portals_pages_pass_axe_and_fit_a_phone(new_page):
    """axe-core runs as a script of its own, so this page has JavaScript on; the portal's pages have none."""
    page = new_page(viewport=PHONE)
    for path, name in (("/privacy", "portal-privacy"), ("/privacy/requests/new/rectification", "portal-request-form"),
                       ("/privacy/verify/chl_example", "portal-code"), ("/privacy/status/example", "portal-status-link")):
        page.goto(path)
        assert_accessible(page, name)
        width, visible = horizontal_overflow(page)
        assert width <= visible, f"{path} scrolls sideways at phone width"
