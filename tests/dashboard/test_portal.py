"""The public privacy page: the notice and its versions, a form per request type, verification by
the emailed code or link, and the single-use status link; on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from config.settings import DEFAULT_PRIVACY_NOTICE
from dashboard.portal_forms import REQUEST_PAGES
from dashboard.security import PAGE_POLICY
from ledger import requests
from portal_helpers import EMAIL, STATUS_URL, challenge_of, mail_challenges, portal_app, post, submit  # noqa: F401
from state.verification import wanted_challenges

NOTICE_VERSIONS = ("CREATE TABLE notice_versions (version VARCHAR(64) PRIMARY KEY, sha256 VARCHAR(64) NOT NULL, "
                   "text TEXT NOT NULL, registered_at VARCHAR(32) NOT NULL, material BOOLEAN NOT NULL)")


def _context(app):
    return app.extensions["bookings_ledger.dashboard"]


def _portal_requests(app):
    with _context(app).ledger.transaction() as tx:
        return [request for request in tx.session.scalars(
            requests.select(requests.RequestProjection).where(requests.RequestProjection.channel == "portal"))]


def test_the_privacy_page_shows_the_notice_in_force_and_a_form_for_every_request_type(portal_app):
    answer = portal_app.test_client().get("/privacy")
    body = answer.get_data(as_text=True)
    assert answer.status_code == 200 and answer.headers["Content-Security-Policy"] == PAGE_POLICY
    assert "<p>How do we handle children’s information?</p>" in body and "None: this is the first version." in body
    for request_type, page in REQUEST_PAGES.items():
        assert f'href="/privacy/requests/new/{request_type}">{page.title}</a>' in body
    assert "<script" not in body and "https://" not in body


def test_registered_versions_are_published_the_newest_in_force_the_earlier_ones_linked(portal_app):
    engine = _context(portal_app).engine
    with engine.begin() as connection:
        if not engine.dialect.has_table(connection, "notice_versions"):   # comms' table, before its merge
            connection.execute(text(NOTICE_VERSIONS))
        for version, words, at in (("2023-05-01", "Our first notice.", "2023-05-01T00:00:00.000000Z"),
                                   ("2024-02-26", "Our second notice.", "2024-02-26T00:00:00.000000Z")):
            connection.execute(text("INSERT INTO notice_versions VALUES (:v, :s, :t, :r, :m)"),
                               {"v": version, "s": "ab" * 32, "t": words, "r": at, "m": False})
    client = portal_app.test_client()
    body = client.get("/privacy").get_data(as_text=True)
    assert "<p>Our second notice.</p>" in body and "Our first notice." not in body
    assert '<a href="/privacy/notices/2023-05-01">Version 2023-05-01</a>, published 2023-05-01' in body
    earlier = client.get("/privacy/notices/2023-05-01").get_data(as_text=True)
    assert "<p>Our first notice.</p>" in earlier and "An earlier version, no longer in force." in earlier
    assert client.get("/privacy/notices/1999-01-01").status_code == 404


def test_without_registered_versions_the_notice_file_is_the_one_version(portal_app):
    version = _context(portal_app).policy.notice_version
    body = portal_app.test_client().get(f"/privacy/notices/{version}").get_data(as_text=True)
    assert "The version in force." in body and "OWNED &amp; OPERATED" in body
    assert DEFAULT_PRIVACY_NOTICE.exists()


@pytest.mark.parametrize("request_type", sorted(REQUEST_PAGES))
def test_every_request_type_has_its_form(portal_app, request_type):
    body = portal_app.test_client().get(f"/privacy/requests/new/{request_type}").get_data(as_text=True)
    assert f"<h1>{REQUEST_PAGES[request_type].title}</h1>" in body and 'name="csrf_token"' in body
    assert ('name="correction.name"' in body) == (request_type == "rectification")


def test_a_submission_is_received_from_the_portal_and_waits_for_the_emailed_code(portal_app):
    answer = submit(portal_app, client := portal_app.test_client(), "access", phone="+353 1 555 0100",
                    details="Everything please")
    assert answer.status_code == 303 and challenge_of(answer)
    [request] = _portal_requests(portal_app)
    assert (request.request_type, request.channel, request.state) == ("access", "portal", "awaiting-verification")
    with _context(portal_app).ledger.transaction() as tx:
        assert wanted_challenges(tx.session) == [(challenge_of(answer), request.request_id)]
        contact = tx.read_personal_data(request.requester_ref, viewer="service:test", purpose="test")
    assert contact["email"] == EMAIL and contact["phone"] == "+353 1 555 0100" and contact["request_text"] == "Everything please"
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "valid for 15 minutes" in page and 'name="code"' in page


def test_the_right_code_verifies_the_request_and_gives_a_single_use_status_link(portal_app):
    client = portal_app.test_client()
    answer = submit(portal_app, client, "erasure")
    [issued] = mail_challenges(portal_app).values()
    verified = post(portal_app, client, answer.headers["Location"], code=issued.code)
    assert verified.status_code == 200 and "your address is verified" in verified.get_data(as_text=True)
    [request] = _portal_requests(portal_app)
    assert request.state == "verified" and request.verification == "email"
    assert requests.why_not_startable(request) is None
    status_url = STATUS_URL.search(verified.get_data(as_text=True)).group(1)
    assert 'action="' + status_url + '"' in client.get(status_url).get_data(as_text=True)
    status = post(portal_app, client, status_url)
    body = status.get_data(as_text=True)
    assert status.status_code == 200 and "verified, waiting to be carried out" in body and request.request_id in body
    assert EMAIL not in body
    assert post(portal_app, client, status_url).status_code == 404          # opened once


def test_the_emailed_link_shows_a_button_and_only_the_post_verifies(portal_app):
    client = portal_app.test_client()
    submit(portal_app, client, "restriction")
    [issued] = mail_challenges(portal_app).values()
    for _ in range(2):       # a mail scanner following the link spends nothing
        assert "Verify my address" in client.get(f"/privacy/v/{issued.link_token}").get_data(as_text=True)
    assert _portal_requests(portal_app)[0].state == "awaiting-verification"
    assert post(portal_app, client, f"/privacy/v/{issued.link_token}").status_code == 200
    assert _portal_requests(portal_app)[0].verification == "email"
    assert post(portal_app, client, f"/privacy/v/{issued.link_token}").status_code == 404   # replayed


def test_an_opt_out_is_recorded_at_once_without_a_challenge(portal_app):
    answer = submit(portal_app, portal_app.test_client(), "opt-out")
    assert answer.status_code == 200 and "Your opt-out is recorded" in answer.get_data(as_text=True)
    assert _portal_requests(portal_app)[0].state == "verified" and mail_challenges(portal_app) == {}


def test_a_parents_request_waits_for_the_officer_without_a_code(portal_app):
    answer = submit(portal_app, portal_app.test_client(), "child-erasure")
    assert "Our privacy officer will contact you" in answer.get_data(as_text=True)
    assert _portal_requests(portal_app)[0].state == "awaiting-verification" and mail_challenges(portal_app) == {}


@pytest.mark.parametrize("fields, problem", [
    ({"email": "not an address"}, "Enter the email address"),
    ({"email": ""}, "Enter the email address"),
    ({"phone": "call me maybe"}, "telephone number with digits"),
    ({"details": "x" * 2001}, "under 2000 characters"),
])
def test_a_malformed_form_is_shown_again_and_nothing_is_received(portal_app, fields, problem):
    answer = submit(portal_app, portal_app.test_client(), "erasure", **fields)
    assert answer.status_code == 400 and problem in answer.get_data(as_text=True)
    assert _portal_requests(portal_app) == []


def test_a_correction_is_asked_for_and_kept_encrypted_with_the_request(portal_app):
    client = portal_app.test_client()
    assert "at least one thing to correct" in submit(portal_app, client, "rectification").get_data(as_text=True)
    submit(portal_app, client, "rectification", **{"correction.name": "Ada King"})
    [request] = _portal_requests(portal_app)
    with _context(portal_app).ledger.transaction() as tx:
        contact = tx.read_personal_data(request.requester_ref, viewer="service:test", purpose="test")
    assert contact["correction.name"] == "Ada King"


def test_an_unknown_request_type_is_not_found(portal_app):
    client = portal_app.test_client()
    assert client.get("/privacy/requests/new/everything").status_code == 404
    assert submit(portal_app, client, "everything").status_code == 404
