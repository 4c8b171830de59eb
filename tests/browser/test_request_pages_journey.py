"""A privacy officer's request errands in a real browser, against the live service and its emulator:
an access request run and its export downloaded (recorded); a telephone erasure recorded, its
requester's details seen with a reason (recorded), the identity check recorded, the run queued with
a choice for each future appointment of the requester, run, and its certificate verified offline;
an access request extended and another refused; the queue, the intake form and the request page
checked by axe-core, and at phone width none of them scrolls sideways."""
from __future__ import annotations

import io
import re
import zipfile

import pytest
from playwright.sync_api import expect

from browser_checks import PHONE, assert_accessible, horizontal_overflow, screenshot
from ledger.checkpoint_store import CheckpointSigner
from ledger.core.certificates import verify_certificate

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-request_pages_journey")]


def record_request(page, request_type: str, email: str, words: str = "") -> str:
    """Record a telephone request from the queue's button; the new request's id."""
    page.goto("/requests")
    page.get_by_role("link", name="Record a request").click()
    page.get_by_label("Type of request").select_option(request_type)
    page.get_by_label("Came in by").select_option("telephone")
    page.get_by_label("Requester's email").fill(email)
    page.get_by_label("What the requester asked").fill(words)
    page.get_by_role("button", name="Record request").click()
    page.wait_for_url(re.compile(r"/requests/req_[0-9a-f]{16}$"))
    return page.url.rsplit("/", 1)[1]


def downloaded(page, link: str, suffix: str) -> bytes:
    """The bytes of the file a link on the page downloads."""
    with page.expect_download() as download_info:
        page.get_by_role("link", name=link).click()
    download = download_info.value
    assert download.suggested_filename.endswith(suffix), download.suggested_filename
    return download.path().read_bytes()


def test_an_access_request_runs_and_the_officer_downloads_its_export(officer_page, live_service):
    page = officer_page
    request_id = record_request(page, "access", live_service.subject_email)
    page.get_by_label("email", exact=True).check()
    page.get_by_role("button", name="Record verification").click()
    page.get_by_role("button", name="Run request").click()
    expect(page.get_by_role("status")).to_contain_text(f"Request {request_id} is queued to run")
    live_service.run_queued_requests()
    page.goto(f"/requests/{request_id}")
    expect(page.locator("main")).to_contain_text("completed")
    downloads_before = live_service.entries_of_kind("exported")
    archive = downloaded(page, "Download the export", ".zip")
    assert live_service.entries_of_kind("exported") == downloads_before + 1, "the download is not on the record"
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        assert live_service.subject_email.lower() in opened.read("export.json").decode().lower()
    assert_accessible(page, "request-access-completed")


def test_a_telephone_erasure_is_verified_and_queued_with_a_choice_per_future_appointment(officer_page, live_service):
    page = officer_page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Requests").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Data-subject requests")
    page.get_by_role("link", name="Record a request").click()
    assert_accessible(page, "request-new")
    request_id = record_request(page, "erasure", live_service.subject_email, "Caller asked to be forgotten")
    expect(page.get_by_role("status")).to_contain_text(f"Request {request_id} recorded.")
    expect(page.locator("main")).to_contain_text("awaiting-verification")
    assert live_service.subject_email not in page.content(), "the request page shows the email before any view"
    assert_accessible(page, "request-awaiting-verification")

    viewed_before = live_service.entries_of_kind("viewed")
    page.get_by_label("Reason to see the requester's details").fill("Calling the requester back")
    page.get_by_role("button", name="Show the requester's details").click()
    expect(page.locator("main")).to_contain_text(live_service.subject_email)
    assert live_service.entries_of_kind("viewed") == viewed_before + 1, "no `viewed` entry for the clear view"

    page.get_by_label("email", exact=True).check()
    page.get_by_label("appointment", exact=True).check()
    page.get_by_role("button", name="Record verification").click()
    expect(page.get_by_role("status")).to_contain_text(f"Request {request_id} verified.")
    choices = page.locator("fieldset.choice")
    for index in range(choices.count()):       # the subject's appointments still to come, from the mirror
        choices.nth(index).get_by_label("Keep, anonymised").check()
    assert_accessible(page, "request-verified")
    page.get_by_role("button", name="Run request").click()
    expect(page.get_by_role("status")).to_contain_text(f"Request {request_id} is queued to run")
    expect(page.get_by_role("heading", level=2, name="Run")).to_be_visible()
    expect(page.locator("main")).to_contain_text("now queued")

    page.goto("/requests")
    row = page.locator("tr", has_text=request_id)
    expect(row).to_contain_text("verified")
    expect(row.locator(".badge")).to_have_text(re.compile(r"^\d+ days left$"))
    assert live_service.subject_email not in page.content(), "the queue shows who asked"
    assert_accessible(page, "requests-queue")

    live_service.run_queued_requests()          # the scheduler's `requests` job
    page.goto(f"/requests/{request_id}")
    expect(page.locator("main")).to_contain_text("completed")
    document = downloaded(page, "Download the certificate (JSON, signed)", ".json")
    verify_certificate(document, CheckpointSigner.from_settings(live_service.settings).verifier_key)
    assert live_service.subject_email.encode() not in document
    assert_accessible(page, "request-completed")


def test_an_access_request_is_extended_and_another_refused(officer_page, console_errors):
    page = officer_page
    extended = record_request(page, "access", "extend.me@example.org")
    page.get_by_label("Extension reason").select_option("complexity")
    page.get_by_label("Extension note").fill("Records in three businesses")
    page.get_by_role("button", name="Extend deadline").click()
    expect(page.get_by_role("status")).to_contain_text(f"Request {extended} extended.")
    expect(page.locator("main")).to_contain_text("the first deadline was end of")
    expect(page.get_by_role("button", name="Extend deadline")).to_have_count(0)

    refused = record_request(page, "access", "refuse.me@example.org")
    page.get_by_role("button", name="Reject request").click()        # no reason chosen: the form says so
    expect(page.locator("main").get_by_role("alert")).to_contain_text("correct what is marked below")
    console_errors.forgive("status of 400")      # the refused form itself, which Chromium logs as an error
    expect(page.locator("#reject-reason-error")).to_have_text("Choose the reason.")
    assert_accessible(page, "request-refusal-error")
    page.get_by_label("Refusal reason").select_option("manifestly-unfounded")
    page.get_by_role("button", name="Reject request").click()
    expect(page.get_by_role("status")).to_contain_text(f"Request {refused} refused.")
    expect(page.get_by_role("heading", level=2, name="Decisions")).to_have_count(0)

    page.goto("/requests?state=all")
    expect(page.locator("tr", has_text=extended)).to_contain_text("(extended)")
    expect(page.locator("tr", has_text=refused).locator(".badge")).to_have_text("closed")
    page.goto("/")
    expect(page.get_by_role("region", name="Data-subject requests", exact=True)).to_contain_text("data-subject requests are open")
    chart = page.get_by_role("region", name=re.compile(r"^Open data-subject requests"))
    expect(chart.locator("tr", has_text=extended)).to_contain_text("extended")


def test_the_request_pages_fit_a_phone_screen(new_page, officer_state):
    page = new_page(storage_state=officer_state, viewport=PHONE)
    request_id = record_request(page, "erasure", "phone.width@example.org")
    for path, name in ((f"/requests/{request_id}", "request-phone"), ("/requests", "requests-phone"),
                       ("/requests/new", "request-new-phone")):
        page.goto(path)
        scroll_width, client_width = horizontal_overflow(page)
        screenshot(page, name)
        assert scroll_width <= client_width, f"{path} scrolls sideways at 375 px ({scroll_width} > {client_width})"
