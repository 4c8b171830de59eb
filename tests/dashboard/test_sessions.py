"""Sessions live server-side: the cookie is a host-only, Secure, HttpOnly, SameSite=Lax random
token; the database holds its SHA-256 and never the token; a session ends at its absolute
lifetime and when left idle (on the dashboard's clock); signing in issues a new token and signing
out deletes the row."""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, select

from bookings_ledger.app import close_app
from conftest import NOW, csrf_token, sign_in_locally, started_app
from dashboard.sessions import COOKIE
from state.dashboard_sessions import DashboardSession, token_hash
from state.working_state_retention import WorkingStateRetention, purge_working_state

LIFETIME, IDLE = 60, 15   # minutes
AGES = WorkingStateRetention(timedelta(days=7), timedelta(days=30), timedelta(days=90))


class Clock:
    """The dashboard's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += timedelta(minutes=minutes)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(dashboard_settings: dict[str, str], clock: Clock) -> Iterator[Flask]:
    app = started_app({**dashboard_settings, "SESSION_LIFETIME_MINUTES": str(LIFETIME),
                       "SESSION_IDLE_MINUTES": str(IDLE)}, clock=clock)
    yield app
    close_app(app)


def _token(client: FlaskClient) -> str | None:
    cookie = client.get_cookie(COOKIE)
    return cookie.value if cookie is not None else None


def _stored_hashes(app: Flask) -> set[str]:
    engine = app.extensions["bookings_ledger.engine"]
    with engine.connect() as connection:
        return set(connection.scalars(select(DashboardSession.token_hash)))


def _signed_in(client: FlaskClient) -> bool:
    # The sign-in page sends a signed-in user on (302) and shows the form to anyone else (200).
    return client.get("/sign-in").status_code == 302


def _with_token(app: Flask, token: str) -> FlaskClient:
    client = app.test_client()
    client.set_cookie(COOKIE, token)
    return client


def test_the_cookie_is_a_host_only_secure_httponly_lax_random_token(app):
    client = app.test_client()
    response = sign_in_locally(app, client, "officer")
    assert response.status_code == 302
    name_value, *attributes = [part.strip() for part in response.headers["Set-Cookie"].split(";")]
    name, _, token = name_value.partition("=")
    assert name == "__Host-bl_session" and len(token) >= 43   # 32 random bytes, base64url
    assert sorted(attributes) == ["HttpOnly", "Path=/", "SameSite=Lax", "Secure"]   # no Domain, no Expires


def test_the_database_holds_the_tokens_hash_and_never_the_token(app, dashboard_settings):
    """Carve the SQLite files (and the WAL) for the raw token: absent; its SHA-256: present."""
    client = app.test_client()
    sign_in_locally(app, client, "auditor")
    token = _token(client)
    assert token_hash(token) == hashlib.sha256(token.encode()).hexdigest() and token_hash(token) in _stored_hashes(app)
    database = Path(dashboard_settings["DATABASE_URL"].removeprefix("sqlite:///"))
    carved = b"".join(path.read_bytes() for path in database.parent.glob(database.name + "*"))
    assert token_hash(token).encode() in carved          # the carving finds what is there
    assert token.encode() not in carved
    with create_engine(dashboard_settings["DATABASE_URL"]).connect() as connection:
        data = connection.scalar(select(DashboardSession.data))
    assert '"local:auditor"' in data and "Auditor" in data and token not in data


def test_a_session_ends_at_its_absolute_lifetime_however_busy(app, clock):
    client = app.test_client()
    sign_in_locally(app, client, "officer")
    token = _token(client)
    for _ in range(4):
        clock.advance(IDLE - 3)       # always used within the idle limit: 48 minutes in
        assert _signed_in(client)
    clock.advance(LIFETIME - 4 * (IDLE - 3))
    assert not _signed_in(client)
    assert token_hash(token) not in _stored_hashes(app)   # deleted by the request that found it dead


def test_a_session_left_idle_ends(app, clock):
    client = app.test_client()
    sign_in_locally(app, client, "officer")
    clock.advance(IDLE - 1)
    assert _signed_in(client)
    clock.advance(IDLE - 1)           # idle time counts from the last use, not from sign-in
    assert _signed_in(client)
    clock.advance(IDLE)
    assert not _signed_in(client)


def test_signing_in_issues_a_new_token_and_kills_the_old_one(app):
    """No fixation: the anonymous session (holding the sign-in form's CSRF token) is replaced."""
    client = app.test_client()
    assert client.get("/sign-in").status_code == 200
    before = _token(client)
    assert before is not None
    sign_in_locally(app, client, "admin")
    after = _token(client)
    assert after != before and token_hash(before) not in _stored_hashes(app)
    assert not _signed_in(_with_token(app, before)) and _signed_in(_with_token(app, after))


def test_a_token_the_client_chose_is_never_adopted(app):
    planted = "attacker-chosen-token-" + "x" * 30
    client = _with_token(app, planted)
    sign_in_locally(app, client, "officer")
    assert _token(client) != planted and token_hash(planted) not in _stored_hashes(app)


def test_signing_out_deletes_the_row_and_the_cookie(app):
    client = app.test_client()
    sign_in_locally(app, client, "officer")
    token = _token(client)
    response = client.post("/sign-out", data={"csrf_token": csrf_token(app, client)})
    assert response.status_code == 302 and response.headers["Location"] == "/sign-in"
    assert response.headers["Set-Cookie"].startswith(f"{COOKIE}=;") and "Max-Age=0" in response.headers["Set-Cookie"]
    assert token_hash(token) not in _stored_hashes(app)
    assert not _signed_in(_with_token(app, token))   # a copy of the old cookie is worth nothing


def test_expired_sessions_go_with_the_working_states_purge(app, clock):
    """Sessions nobody presents again are deleted by the scheduler's purge, live ones stay."""
    for name in ("officer", "auditor"):
        sign_in_locally(app, app.test_client(), name)
    clock.advance(IDLE + 1)
    live = app.test_client()
    sign_in_locally(app, live, "admin")
    engine = app.extensions["bookings_ledger.engine"]
    assert purge_working_state(engine, clock(), AGES)["dashboard_sessions"] == 2
    assert _stored_hashes(app) == {token_hash(_token(live))}
