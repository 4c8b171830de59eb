"""Local sign-in (AUTH_MODE=local): each account gets its role; a wrong name and a wrong password
get one answer; sign-in is rate-limited per client address; POST /sign-in does not exist in entra
mode; `next` never leads off the site."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from bookings_ledger.app import close_app
from conftest import LOCAL_PASSWORD, sign_in_locally, started_app
from dashboard.roles import ADMIN, AUDITOR, PRIVACY_OFFICER
from state.dashboard_sessions import DashboardSession


def _session_user(app) -> dict | None:
    with app.extensions["bookings_ledger.engine"].connect() as connection:
        users = [json.loads(data).get("user") for data in connection.scalars(select(DashboardSession.data))]
    signed = [user for user in users if user]
    assert len(signed) <= 1
    return signed[0] if signed else None


@pytest.mark.parametrize(("name", "role"), [("officer", PRIVACY_OFFICER), ("auditor", AUDITOR), ("admin", ADMIN)])
def test_each_local_account_signs_in_with_its_role(dashboard_app, name, role):
    client = dashboard_app.test_client()
    response = sign_in_locally(dashboard_app, client, name)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    user = _session_user(dashboard_app)
    assert user["id"] == f"local:{name}" and user["roles"] == [role] and user["auth"] == "local"
    assert client.get("/sign-in").status_code == 302   # signed in: the form is not shown again


@pytest.mark.parametrize(("name", "password"), [("officer", "wrong password"), ("nobody", LOCAL_PASSWORD),
                                                ("officer", ""), ("Officer", LOCAL_PASSWORD),
                                                ("officer", LOCAL_PASSWORD + " ")])
def test_a_wrong_name_or_password_gets_the_same_answer_and_no_session(dashboard_app, name, password):
    answer = sign_in_locally(dashboard_app, dashboard_app.test_client(), name, password)
    assert answer.status_code == 401 and "Wrong user name or password." in answer.get_data(as_text=True)
    reference = sign_in_locally(dashboard_app, dashboard_app.test_client(), "officer", "another wrong one")
    # The same page whatever was wrong (the CSRF token and the user name field aside, nothing differs).
    assert _without_token(answer.get_data(as_text=True)) == _without_token(reference.get_data(as_text=True))
    assert _session_user(dashboard_app) is None


def _without_token(page: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", page)


@pytest.fixture
def limited_app(dashboard_settings):
    app = started_app({**dashboard_settings, "SIGN_IN_RATE_LIMIT": "3 per minute", "TRUSTED_PROXY_HOPS": "1"})
    yield app
    close_app(app)


def test_sign_in_is_rate_limited_per_client_address(limited_app):
    """The fourth attempt within a minute is refused, even with the right password; another
    address (as the one trusted proxy reports it) still gets its own three."""
    client = limited_app.test_client()
    here = {"X-Forwarded-For": "203.0.113.7"}
    for _ in range(3):
        assert sign_in_locally(limited_app, client, "officer", "guess", **here).status_code == 401
    refused = sign_in_locally(limited_app, client, "officer", **here)
    assert refused.status_code == 429 and "Too many sign-in attempts" in refused.get_data(as_text=True)
    assert refused.headers["Content-Security-Policy"].startswith("default-src 'none'")
    elsewhere = limited_app.test_client()
    assert sign_in_locally(limited_app, elsewhere, "officer", **{"X-Forwarded-For": "198.51.100.2"}).status_code == 302


def test_a_forwarded_address_from_an_untrusted_client_does_not_escape_the_limit(dashboard_settings):
    """With no trusted proxy, X-Forwarded-For is the client's own claim and is ignored."""
    app = started_app({**dashboard_settings, "SIGN_IN_RATE_LIMIT": "2 per minute"})
    try:
        client = app.test_client()
        statuses = [sign_in_locally(app, client, "officer", "guess", **{"X-Forwarded-For": f"192.0.2.{n}"}).status_code
                    for n in range(3)]
        assert statuses == [401, 401, 429]
    finally:
        close_app(app)


def test_post_sign_in_does_not_exist_in_entra_mode(dashboard_settings):
    app = started_app({**dashboard_settings, "AUTH_MODE": "entra", "DASHBOARD_CLIENT_ID": "0f1e2d3c-4b5a-4968-8776-655443322110",
                       "DASHBOARD_CLIENT_SECRET": "entra-test-secret"})
    try:
        client = app.test_client()
        assert sign_in_locally(app, client, "officer").status_code == 404
        assert _session_user(app) is None
    finally:
        close_app(app)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "\\\\evil.example",
                                    "/\t/evil.example", "/\n/evil.example", "javascript:alert(1)", "http:evil.example",
                                    "evil.example/x"])
def test_next_never_leads_off_the_site(dashboard_app, target):
    """Whatever `next` says, sign-in lands on a path of this site (else the overview)."""
    client = dashboard_app.test_client()
    assert sign_in_locally(dashboard_app, client, "officer", next_path=target).headers["Location"] == "/"
    assert client.get("/sign-in", query_string={"next": target}).headers["Location"] == "/"


def test_next_keeps_a_path_on_this_site(dashboard_app):
    client = dashboard_app.test_client()
    response = sign_in_locally(dashboard_app, client, "auditor", next_path="/records?state=held&type=appointment")
    assert response.headers["Location"] == "/records?state=held&type=appointment"
