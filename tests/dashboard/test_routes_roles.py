"""Every dashboard route, read from the URL map of an app serving both surfaces, refuses whoever
its declaration leaves out: anonymous visitors are sent to sign in (or get 401), a user with no
role sees the page that says so, a role outside the declaration gets 403, and a role inside it
gets through. Routes added by any later page are covered without editing this file."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bookings_ledger.app import SURFACES, close_app
from bookings_ledger.keys import generate_all_keys
from dashboard_helpers import USERS, csrf_token, dashboard_requests, signed_in, started_app
from dashboard.roles import PUBLIC, ROLES, SIGNED_IN, TokenScopes, access_of

NO_ROLE_HEADING = "You have no role in bookings-ledger"


@pytest.fixture(scope="module")
def both_surfaces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The webhooks and the dashboard in one app, as the demo serves them."""
    tmp_path = tmp_path_factory.mktemp("both")
    settings = {**generate_all_keys(), "DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}",
                "KEYSTORE_URL": f"sqlite:///{tmp_path / 'keys.db'}", "GRAPH_TENANT_ID": "8f2c1a7e-3d4b-4c5e-9f60-7a8b9c0d1e2f",
                "AUTH_MODE": "local", "LOCAL_PASSWORD": "routes", "CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
                "SIGN_IN_RATE_LIMIT": "1000 per minute"}
    app = started_app(settings, surfaces=SURFACES)
    app.config["PROPAGATE_EXCEPTIONS"] = False   # a failing view is a 500 here, reported with its route
    yield app
    close_app(app)


def _access(app: Flask, endpoint: str):
    return PUBLIC if endpoint == "frame.static" else access_of(app.view_functions[endpoint])


def _request(app: Flask, client: FlaskClient, method: str, url: str):
    # A POST carries the client's own CSRF token: the guard, not the CSRF check, must answer.
    data = {"csrf_token": csrf_token(app, client)} if method != "GET" else None
    return client.open(url, method=method, data=data)


def _guarded(app: Flask) -> list[tuple[str, str, str]]:
    # The API's routes answer bearer tokens, not sessions: tests/dashboard/test_api_security.py.
    return [request for request in dashboard_requests(app)
            if _access(app, request[0]) != PUBLIC and not isinstance(_access(app, request[0]), TokenScopes)]


def test_the_map_holds_the_dashboard_beside_the_webhooks(both_surfaces):
    """The enumeration sees both surfaces, so it is the real map (not an empty one) that is checked."""
    endpoints = {rule.endpoint for rule in both_surfaces.url_map.iter_rules()}
    assert {"signin.sign_in_page", "signin.sign_in", "signin.sign_out"} <= endpoints
    assert any(endpoint.startswith("webhooks.") for endpoint in endpoints)


def test_every_dashboard_view_declares_who_may_use_it(both_surfaces):
    """An undeclared view is refused to everyone by the guard; it is also a bug this names."""
    undeclared = sorted({endpoint for endpoint, _, _ in dashboard_requests(both_surfaces)
                         if _access(both_surfaces, endpoint) is None})
    assert undeclared == []


def test_anonymous_visitors_are_sent_to_sign_in_or_refused(both_surfaces):
    """GET: a redirect to the sign-in page that comes back here; anything else: 401."""
    wrong = []
    for endpoint, method, url in _guarded(both_surfaces):
        response = _request(both_surfaces, both_surfaces.test_client(), method, url)
        if method == "GET":
            location = response.headers.get("Location", "")
            if response.status_code != 302 or not location.startswith("/sign-in?next="):
                wrong.append((endpoint, method, response.status_code, location))
        elif response.status_code != 401:
            wrong.append((endpoint, method, response.status_code))
    assert wrong == []


def test_a_user_without_a_role_sees_only_the_no_role_page(both_surfaces):
    """Every route that needs a role answers 403 with the page that says so; sign-out still works."""
    wrong = []
    for endpoint, method, url in _guarded(both_surfaces):
        response = _request(both_surfaces, signed_in(both_surfaces, None), method, url)
        if _access(both_surfaces, endpoint) == SIGNED_IN:
            if response.status_code in (401, 403) or response.status_code >= 500:
                wrong.append((endpoint, method, response.status_code))
        elif response.status_code != 403 or NO_ROLE_HEADING not in response.get_data(as_text=True):
            wrong.append((endpoint, method, response.status_code))
    assert wrong == []


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_exactly_the_routes_declared_for_it(both_surfaces, role):
    """Outside the declaration: 403. Inside it: neither 401 nor 403, and never a 500 (a dummy id's 404 is fine)."""
    wrong = []
    for endpoint, method, url in _guarded(both_surfaces):
        access = _access(both_surfaces, endpoint)
        allowed = access == SIGNED_IN or USERS[role].may(access)
        status = _request(both_surfaces, signed_in(both_surfaces, role), method, url).status_code
        if allowed and (status in (401, 403) or status >= 500):
            wrong.append((endpoint, method, "allowed", status))
        if not allowed and status != 403:
            wrong.append((endpoint, method, "refused", status))
    assert wrong == []
