"""The public privacy page's defences: codes and links single-use and expiring, a replayed link
refused, attempts exhausted, every failure the same page, nothing unverified started from it,
CSRF on every form, the rate limit, no script."""
from __future__ import annotations

import re

import pytest

from bookings_ledger.app import close_app
from dashboard.security import PAGE_POLICY
from dashboard_helpers import started_app
from ledger import requests
from ledger.requests import NotVerified
from portal_helpers import STATUS_URL, mail_challenges, portal_app, post, submit  # noqa: F401

CSRF = re.compile(r'name="csrf_token" value="[^"]+"')


def _request(app):
    ledger = app.extensions["bookings_ledger.dashboard"].ledger
    with ledger.transaction() as tx:
        [request] = tx.session.scalars(requests.select(requests.RequestProjection)).all()
        return request


def _submitted(app, request_type="erasure"):
    client = app.test_client()
    answer = submit(app, client, request_type)
    [issued] = mail_challenges(app).values()
    return client, answer.headers["Location"], issued


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** 6:06d}"


def test_wrong_codes_spend_the_challenge_and_then_the_right_code_is_refused(portal_app):
    client, code_url, issued = _submitted(portal_app)
    for _ in range(3):                                  # VERIFICATION_ATTEMPTS
        assert post(portal_app, client, code_url, code=_wrong(issued.code)).status_code == 400
    assert post(portal_app, client, code_url, code=issued.code).status_code == 400
    assert post(portal_app, client, f"/privacy/v/{issued.link_token}").status_code == 404
    assert _request(portal_app).state == "awaiting-verification"


def test_a_code_is_refused_once_its_minutes_are_over(portal_app, clock):
    client, code_url, issued = _submitted(portal_app)
    clock.advance(minutes=15)
    assert post(portal_app, client, code_url, code=issued.code).status_code == 400
    assert _request(portal_app).state == "awaiting-verification"


def test_a_link_is_refused_once_its_minutes_are_over(portal_app, clock):
    client, _, issued = _submitted(portal_app)
    clock.advance(minutes=15)
    assert post(portal_app, client, f"/privacy/v/{issued.link_token}").status_code == 404
    assert _request(portal_app).state == "awaiting-verification"


def test_a_used_code_and_a_replayed_link_are_refused(portal_app):
    client, code_url, issued = _submitted(portal_app)
    assert post(portal_app, client, code_url, code=issued.code).status_code == 200
    assert post(portal_app, client, code_url, code=issued.code).status_code == 400
    assert post(portal_app, client, f"/privacy/v/{issued.link_token}").status_code == 404


def test_a_status_link_is_refused_after_its_hours(portal_app, clock):
    client, code_url, issued = _submitted(portal_app)
    status_url = STATUS_URL.search(post(portal_app, client, code_url, code=issued.code).get_data(as_text=True)).group(1)
    clock.advance(hours=72)                              # REQUEST_LINK_HOURS
    assert post(portal_app, client, status_url).status_code == 404


def test_every_failed_code_gets_the_same_page_whatever_the_reason(portal_app, clock):
    """Wrong, spent, expired, unknown, not yet mailed: one answer, so a guesser learns nothing."""
    client, code_url, issued = _submitted(portal_app)
    pages = {"wrong": post(portal_app, client, code_url, code=_wrong(issued.code))}
    wanted_url = submit(portal_app, client, "access", email="other@example.org").headers["Location"]
    pages["not mailed"] = post(portal_app, client, wanted_url, code=issued.code)
    pages["unknown"] = post(portal_app, client, "/privacy/verify/chl_nonesuch", code=issued.code)
    post(portal_app, client, code_url, code=_wrong(issued.code))
    pages["spent"] = post(portal_app, client, code_url, code=_wrong(issued.code))
    clock.advance(minutes=15)
    pages["expired"] = post(portal_app, client, code_url, code=issued.code)
    bodies = {reason: (page.status_code, re.sub(r"chl_[A-Za-z0-9_-]+", "*", CSRF.sub("*", page.get_data(as_text=True))))
              for reason, page in pages.items()}
    assert len(set(bodies.values())) == 1, bodies.keys()


def test_nothing_on_the_page_starts_an_unverified_request(portal_app):
    """Every portal route, tried with what an attacker holds (the challenge id, junk tokens), leaves the
    request unverified, and the gate refuses to start it."""
    client, code_url, issued = _submitted(portal_app)
    challenge = code_url.rsplit("/", 1)[1]
    for url in (code_url, f"/privacy/v/{challenge}", f"/privacy/status/{challenge}", f"/privacy/export/{challenge}",
                "/privacy/v/x", "/privacy/status/x", f"/privacy/status/{issued.link_token}"):
        post(portal_app, client, url, code="")
    request = _request(portal_app)
    assert request.state == "awaiting-verification" and requests.why_not_startable(request) is not None
    ledger = portal_app.extensions["bookings_ledger.dashboard"].ledger
    with ledger.transaction() as tx, pytest.raises(NotVerified):
        requests.start(tx, request.request_id, subjects=[], by="subject")


def test_a_code_for_a_duplicate_verifies_neither_it_nor_the_first_request(portal_app):
    """The second submission of the same type from the same address is linked, never run; its own
    code verifies nothing (the first request waits for its own)."""
    client = portal_app.test_client()
    submit(portal_app, client, "erasure")
    second = submit(portal_app, client, "erasure").headers["Location"]
    issued = mail_challenges(portal_app)
    ledger = portal_app.extensions["bookings_ledger.dashboard"].ledger
    with ledger.transaction() as tx:
        first, duplicate = sorted(tx.session.scalars(requests.select(requests.RequestProjection)).all(),
                                  key=lambda request: request.state)
    assert (first.state, duplicate.state, duplicate.duplicate_of) == ("awaiting-verification", "duplicate", first.request_id)
    assert post(portal_app, client, second, code=issued[duplicate.request_id].code).status_code == 200
    with ledger.transaction() as tx:
        assert requests.get(tx, duplicate.request_id).state == "duplicate"
        assert requests.get(tx, first.request_id).state == "awaiting-verification"


@pytest.mark.parametrize("url", ["/privacy/requests/new/erasure", "/privacy/verify/chl_x", "/privacy/v/x",
                                 "/privacy/status/x", "/privacy/export/x"])
def test_every_form_refuses_a_post_without_its_csrf_token(portal_app, url):
    answer = portal_app.test_client().post(url, data={"email": "ada@example.org", "code": "123456"})
    assert answer.status_code == 400 and "not sent by this page" in answer.get_data(as_text=True)
    with portal_app.extensions["bookings_ledger.dashboard"].ledger.transaction() as tx:
        assert tx.session.scalars(requests.select(requests.RequestProjection)).all() == []


def test_the_forms_share_one_rate_limit_per_client_address(dashboard_settings):
    app = started_app({**dashboard_settings, "PORTAL_RATE_LIMIT": "3 per minute"})
    try:
        client = app.test_client()
        assert submit(app, client).status_code == 303
        assert post(app, client, "/privacy/verify/chl_x", code="1").status_code == 400
        assert post(app, client, "/privacy/v/x").status_code == 404
        refused = post(app, client, "/privacy/status/x")
        assert refused.status_code == 429 and "Too many requests from your address" in refused.get_data(as_text=True)
        assert submit(app, client).status_code == 429
        assert client.get("/privacy").status_code == 200                       # reading is never limited
        assert app.test_client().get("/sign-in").status_code == 200
    finally:
        close_app(app)


def test_a_rate_that_is_not_one_stops_the_start_naming_the_setting(dashboard_settings):
    from config import SettingsError

    with pytest.raises(SettingsError, match="setting PORTAL_RATE_LIMIT: not a rate"):
        started_app({**dashboard_settings, "PORTAL_RATE_LIMIT": "often"})


def test_every_portal_page_has_the_strict_policy_and_no_script(portal_app):
    client, code_url, issued = _submitted(portal_app)
    pages = [client.get(url) for url in ("/privacy", "/privacy/requests/new/rectification", code_url,
                                         f"/privacy/v/{issued.link_token}", "/privacy/status/x", "/privacy/export/x")]
    pages += [post(portal_app, client, code_url, code=issued.code), post(portal_app, client, "/privacy/status/x")]
    for page in pages:
        body = page.get_data(as_text=True)
        assert page.headers["Content-Security-Policy"] == PAGE_POLICY and page.headers["Cache-Control"] == "no-store"
        assert page.headers["Referrer-Policy"] == "no-referrer"
        assert not re.search(r"<[^>]+\son[a-z]+=", body) and "style=" not in body
