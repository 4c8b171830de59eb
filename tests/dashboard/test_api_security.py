"""Every route of /api/v1, read from the app's URL map (so a route added later is covered without
editing this file), refuses anonymous callers, bad tokens of every kind, a signed-in officer's
session cookie and tokens without its scope; tokens are stored hashed and compared in constant time;
nothing a caller sends lies in plain text in the database's files or the logs."""
from __future__ import annotations

import logging
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from dashboard.context import context
from dashboard.roles import TokenScopes, access_of
from dashboard_helpers import dashboard_requests, signed_in
from state import api_tokens
from state.api_tokens import SCOPES, ApiToken, create_token, revoke_token
from state.token_hashes import token_hash

sys.path.insert(0, str(Path(__file__).parents[1] / "ledger"))   # the carving tools live with the ledger's tests
from carving import live_files  # noqa: E402


def api_routes(app) -> list[tuple[str, str, str]]:
    """(endpoint, method, URL) of every API route; every one of them must declare token scopes."""
    routes = [route for route in dashboard_requests(app) if route[0].startswith("api.")]
    undeclared = [endpoint for endpoint, _, _ in routes if not isinstance(access_of(app.view_functions[endpoint]), TokenScopes)]
    assert routes and undeclared == []
    return routes


def _call(client, method: str, url: str, headers: dict[str, str] | None = None):
    return client.open(url, method=method, json={} if method == "POST" else None, headers=headers or {})


def _bad_tokens(app, bearer) -> dict[str, dict[str, str]]:
    good = bearer()["Authorization"].removeprefix("Bearer ")
    prefix, token_id, secret = good.split("_", 2)
    revoked = bearer()
    with app.app_context():
        engine, now = context().engine, context().clock()
    revoke_token(engine, revoked["Authorization"].split("_")[1], now)
    return {
        "no header": {}, "blank": {"Authorization": "Bearer "}, "basic": {"Authorization": f"Basic {good}"},
        "unknown id": {"Authorization": f"Bearer {prefix}_{'0' * 16}_{secret}"},
        "wrong secret": {"Authorization": f"Bearer {prefix}_{token_id}_{secret[:-1]}{'A' if secret[-1] != 'A' else 'B'}"},
        "wrong prefix": {"Authorization": f"Bearer xx_{token_id}_{secret}"},
        "no secret": {"Authorization": f"Bearer {prefix}_{token_id}"},
        "oversized": {"Authorization": f"Bearer {good}{'x' * 300}"},
        "expired": bearer(age=timedelta(days=91), days=90),
        "revoked": revoked,
    }


def test_the_map_holds_every_api_route_of_the_contract(api_app):
    """The enumeration sees the real map, not an empty one."""
    endpoints = {endpoint for endpoint, _, _ in api_routes(api_app)}
    assert {"api.create_request", "api.list_requests", "api.show_request", "api.verify_request", "api.run_request",
            "api.extend_request", "api.refuse_request", "api.openapi_document"} <= endpoints


def test_every_route_refuses_every_bad_token_with_one_answer(api_app, bearer):
    """401 problem+json with WWW-Authenticate, identical for all: nobody learns which tokens exist."""
    client, wrong = api_app.test_client(), []
    for kind, headers in _bad_tokens(api_app, bearer).items():
        for endpoint, method, url in api_routes(api_app):
            response = _call(client, method, url, headers)
            body = response.get_json(silent=True) or {}
            if (response.status_code, response.mimetype, body.get("title")) != (401, "application/problem+json", "Unauthorized") \
                    or "Bearer" not in response.headers.get("WWW-Authenticate", ""):
                wrong.append((kind, endpoint, method, response.status_code))
    assert wrong == []


def test_a_signed_in_officers_session_is_not_a_token(api_app):
    """No cookie authenticates an API call, so a page in the officer's browser cannot call it for them."""
    officer, wrong = signed_in(api_app, "PrivacyOfficer"), []
    for endpoint, method, url in api_routes(api_app):
        if _call(officer, method, url).status_code != 401:
            wrong.append((endpoint, method))
    assert wrong == []


@pytest.mark.parametrize("scope", SCOPES)
def test_each_scope_opens_exactly_the_routes_declared_for_it(api_app, bearer, scope):
    """Outside the declaration: 403 naming the scope needed. Inside it: neither 401 nor 403, never a 5xx."""
    client, headers, wrong = api_app.test_client(), bearer(scope), []
    for endpoint, method, url in api_routes(api_app):
        allowed = scope in access_of(api_app.view_functions[endpoint]).scopes
        response = _call(client, method, url, headers)
        if allowed and (response.status_code in (401, 403) or response.status_code >= 500):
            wrong.append((endpoint, method, "allowed", response.status_code))
        if not allowed and (response.status_code != 403 or "insufficient_scope" not in response.headers["WWW-Authenticate"]):
            wrong.append((endpoint, method, "refused", response.status_code))
    assert wrong == []


def test_a_token_is_stored_only_as_a_hash(api_app, bearer):
    token = bearer()["Authorization"].removeprefix("Bearer ")
    secret = token.split("_", 2)[2]
    with api_app.app_context():
        with context().engine.connect() as connection:
            row = connection.execute(select(ApiToken)).one()
    assert secret not in " ".join(str(value) for value in row) and row.secret_hash == token_hash(secret)


def test_the_secret_is_compared_in_constant_time_even_for_an_unknown_id(api_app, monkeypatch):
    """hmac.compare_digest decides, for a known id and for an unknown one alike (same work, same answer)."""
    with api_app.app_context():
        engine, now = context().engine, context().clock()
    issued = create_token(engine, "probe", SCOPES, now, days=1)
    compared = []
    monkeypatch.setattr(api_tokens.hmac, "compare_digest", lambda a, b: compared.append((a, b)) or a == b)
    _, token_id, secret = issued.token.split("_", 2)
    assert api_tokens.authenticate(engine, issued.token, now) is not None
    assert api_tokens.authenticate(engine, f"bl_{token_id}_{secret}x", now) is None
    assert api_tokens.authenticate(engine, f"bl_{'0' * 16}_{secret}", now) is None
    assert len(compared) == 3


def test_last_use_is_recorded_and_revocation_is_immediate(api_app, bearer):
    client, headers = api_app.test_client(), bearer()
    assert client.get("/api/v1/requests", headers=headers).status_code == 200
    with api_app.app_context():
        engine, now = context().engine, context().clock()
    (info,) = api_tokens.list_tokens(engine)
    assert info.last_used_at == now
    revoke_token(engine, info.token_id, now)
    assert client.get("/api/v1/requests", headers=headers).status_code == 401


def test_nothing_personal_or_secret_lies_in_the_database_files_or_the_logs(api_app, bearer, caplog):
    """What an API caller sends (address, phone, words, a note) is encrypted; the token's secret is hashed;
    neither is in a log line, even of refused and invalid calls."""
    caplog.set_level(logging.DEBUG)
    headers = bearer()
    secret = headers["Authorization"].split("_", 2)[2]
    client = api_app.test_client()
    personal = ["grace.hopper@example.org", "+353 87 123 4567", "Please erase everything about Grace", "Grace phoned twice"]
    created = client.post("/api/v1/requests", headers=headers, json={"type": "erasure", "email": personal[0],
                                                                       "phone": personal[1], "text": personal[2]})
    assert created.status_code == 201
    request_id = created.get_json()["request_id"]
    client.post(f"/api/v1/requests/{request_id}/extension", headers=headers, json={"reason": "complexity", "note": personal[3]})
    client.post("/api/v1/requests", headers=headers, json={"type": "erasure", "email": "grace hopper@", "text": personal[2]})
    client.get("/api/v1/requests", headers={"Authorization": f"Bearer bl_{'0' * 16}_{secret}"})
    with api_app.app_context():
        raw = live_files(context().engine)
    logged = caplog.text
    for value in [*personal, "grace hopper@", secret]:
        assert value.encode() not in raw, value
        assert value not in logged, value
