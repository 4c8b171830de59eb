"""CSRF: every state-changing dashboard route refuses a request without its session's token, or
with another session's. Headers: every dashboard response (every rule of the URL map, for every
kind of visitor) carries nosniff, no-store, no referrer, no framing, and HTML the strict CSP
(no script, no inline style, frame-ancestors 'none')."""
from __future__ import annotations

import re

import pytest

from dashboard_helpers import csrf_token, dashboard_requests, signed_in
from dashboard.roles import ROLES, TokenScopes, access_of
from dashboard.security import PAGE_POLICY

VISITORS = (None, *ROLES)   # None: a user with no role; "anonymous" below: nobody signed in


def _post_routes(app) -> list[tuple[str, str]]:
    # The API's routes take a bearer token and never a cookie, so no CSRF token either: a cross-site
    # POST carries no token (tests/dashboard/test_api_security.py refuses the officer's session there).
    return [(endpoint, url) for endpoint, method, url in dashboard_requests(app)
            if method != "GET" and not isinstance(access_of(app.view_functions[endpoint]), TokenScopes)]


def _client(app, visitor):
    return app.test_client() if visitor == "anonymous" else signed_in(app, visitor)


def test_there_are_forms_to_protect(dashboard_app):
    assert ("signin.sign_in", "/sign-in") in _post_routes(dashboard_app)


@pytest.mark.parametrize("visitor", ["anonymous", None])
def test_every_post_without_its_sessions_csrf_token_is_refused(dashboard_app, visitor):
    """No token, or a valid token of another session: 400, before anything else is looked at; the
    session's own token gets past the check (the control)."""
    wrong = []
    for endpoint, url in _post_routes(dashboard_app):
        client = _client(dashboard_app, visitor)
        own = csrf_token(dashboard_app, client)
        foreign = csrf_token(dashboard_app, dashboard_app.test_client())
        answers = {"none": client.post(url).status_code,
                   "foreign": client.post(url, data={"csrf_token": foreign}).status_code,
                   "own": client.post(url, data={"csrf_token": own}).status_code}
        if answers["none"] != 400 or answers["foreign"] != 400 or answers["own"] == 400:
            wrong.append((endpoint, answers))
    assert wrong == []


@pytest.mark.parametrize("visitor", ["anonymous", *VISITORS])
def test_every_dashboard_response_carries_the_security_headers(dashboard_app, visitor):
    wrong = []
    for endpoint, method, url in dashboard_requests(dashboard_app):
        client = _client(dashboard_app, visitor)
        data = {"csrf_token": csrf_token(dashboard_app, client)} if method != "GET" else None
        with client.open(url, method=method, data=data) as response:
            failed = _missing_headers(response)
        if failed:
            wrong.append((endpoint, method, response.status_code, failed))
    assert wrong == []


def _missing_headers(response) -> list[str]:
    headers = response.headers
    html = response.mimetype == "text/html"
    checks = {"nosniff": headers.get("X-Content-Type-Options") == "nosniff",
              "no-store": headers.get("Cache-Control") == "no-store",
              "csp": headers.get("Content-Security-Policy") == (PAGE_POLICY if html else "default-src 'none'"),
              "referrer": headers.get("Referrer-Policy") == "no-referrer",
              "frame": headers.get("X-Frame-Options") == "DENY"}
    if html:
        checks["no inline script or style"] = not re.search(r"<script|<style|\sstyle=|\son[a-z]+=",
                                                            response.get_data(as_text=True), re.I)
    return [name for name, ok in checks.items() if not ok]


def test_the_page_policy_allows_no_script_no_inline_style_and_no_framing():
    directives = dict(part.strip().split(" ", 1) for part in PAGE_POLICY.split(";"))
    assert directives["default-src"] == "'none'" and "script-src" not in directives
    assert directives["frame-ancestors"] == "'none'" and directives["style-src"] == "'self'"
    assert "unsafe" not in PAGE_POLICY


def test_the_refusal_pages_carry_the_headers_too(dashboard_app):
    """A forged form's 400 is an HTML page under the same policy."""
    response = dashboard_app.test_client().post("/sign-in")
    assert response.status_code == 400 and response.headers["Content-Security-Policy"] == PAGE_POLICY
    assert response.headers["Cache-Control"] == "no-store"


def test_a_form_posted_over_https_needs_no_referer(dashboard_app):
    """Referrer-Policy: no-referrer means browsers send none: the CSRF check must not ask for one."""
    client = dashboard_app.test_client()
    page = client.get("/sign-in", base_url="https://localhost")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    response = client.post("/sign-in", base_url="https://localhost",
                           data={"csrf_token": token, "username": "officer", "password": "correct horse battery staple"})
    assert response.status_code == 302
