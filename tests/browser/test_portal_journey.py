"""The public privacy page in a real browser, with JavaScript off (the page has none to run): read
the notice, ask for erasure, enter the code the verification mail carried, open the status link
once, then try the mail's link again; and every page passes axe-core and fits a phone. The mail is
real: the request mailer (jobs/request_mail.py) sends it through the emulator's Graph from the privacy
mailbox, and the test reads it from the emulator's outbox."""
from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from bookings_ledger.wiring import opened_process, sync_services
from browser_checks import PHONE, assert_accessible, horizontal_overflow
from browser_service import LiveService, running_service

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-portal_journey")]
MAILBOX = "privacy@contoso.com"


@pytest.fixture(scope="module")
def live_service(browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """The service with a privacy mailbox, so that verification mail is sent, and room for one journey."""
    with running_service(tmp_path_factory.mktemp("live-portal"), PRIVACY_MAILBOX=MAILBOX,
                         PORTAL_RATE_LIMIT="20 per minute") as service:   # the journey posts six forms
        yield service


def mailed_verification(service: LiveService, to: str) -> tuple[str, str]:
    """Run the request mailer once, then read the verification mail sent to `to`: (code, link path)."""
    with opened_process(service.settings) as process:
        sync_services(service.settings, process.ledger, process.graph, process.ingestor).mail.requests.run()
    outbox_url = service.graph_url.removesuffix("/v1.0") + "/_emulator/outbox"
    with urllib.request.urlopen(outbox_url, timeout=30) as response:
        sent = json.loads(response.read())
    [text] = [m["text"] for m in sent if to in m["recipients"] and "verification code" in m["subject"].lower()]
    return re.search(r"\b(\d{6})\b", text).group(1), re.search(r"/privacy/v/[A-Za-z0-9_-]+", text).group(0)


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
    code, link = mailed_verification(live_service, live_service.subject_email)
    page.get_by_label("The code from the email").fill(code)
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
    page.goto(link)                                                  # the mail's link: the code spent it
    page.get_by_role("button", name="Verify my address").click()
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
