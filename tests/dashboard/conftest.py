"""Fixtures for the dashboard: a migrated SQLite ledger with its key store, the app serving the
dashboard (with the ledger's keys, as its process holds them), and clients signed in by role.

Signed-in clients hold a real server-side session: `signed_in` stores the user through the app's
own session interface (a row keyed by the token's hash, the token in the client's cookie), as
POST /sign-in would. `csrf_token(app, client)` is the token the client's next form would carry;
`sign_in_locally` signs in through the form; `dashboard_requests(app)` lists a request for every
method of every dashboard route in the app's URL map, so route tests cover routes added later.
"""
from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from flask import Flask, session
from flask.testing import FlaskClient
from flask_wtf.csrf import generate_csrf

from bookings_ledger.app import DASHBOARD, close_app, create_app
from bookings_ledger.keys import generate_all_keys
from dashboard import PAGES
from dashboard.context import DashboardContext, context
from dashboard.roles import ADMIN, AUDITOR, PRIVACY_OFFICER, User
from dashboard.sessions import stored_user
from database.engine import create_ledger_engine, upgrade

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)
TENANT = "8f2c1a7e-3d4b-4c5e-9f60-7a8b9c0d1e2f"
LOCAL_PASSWORD = "correct horse battery staple"
USERS = {
    PRIVACY_OFFICER: User("local:officer", "Olivia Officer", frozenset({PRIVACY_OFFICER}), "local"),
    AUDITOR: User("local:auditor", "Aaron Auditor", frozenset({AUDITOR}), "local"),
    ADMIN: User("local:admin", "Ada Admin", frozenset({ADMIN}), "local"),
    None: User("local:nobody", "Norole Person", frozenset(), "local"),
}


@pytest.fixture
def dashboard_settings(tmp_path: Path) -> dict[str, str]:
    """A dashboard process's settings: its own ledger and key store, the ledger's keys, local sign-in."""
    keys = {name: value for name, value in generate_all_keys().items() if name != "CLIENT_STATE_KEY"}
    return {**keys, "DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}", "KEYSTORE_URL": f"sqlite:///{tmp_path / 'keys.db'}",
            "GRAPH_TENANT_ID": TENANT, "AUTH_MODE": "local", "LOCAL_PASSWORD": LOCAL_PASSWORD,
            "CHECKPOINT_DIR": str(tmp_path / "checkpoints")}


def started_app(settings: dict[str, str], *, clock: Callable[[], datetime] = lambda: NOW,
                surfaces: frozenset[str] = frozenset({DASHBOARD})) -> Flask:
    """An app over a freshly migrated database (close it with `close_app`)."""
    upgrade(create_ledger_engine(settings["DATABASE_URL"]))
    app = create_app(settings, clock=clock, surfaces=surfaces)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def dashboard_app(dashboard_settings: dict[str, str]) -> Iterator[Flask]:
    app = started_app(dashboard_settings)
    yield app
    close_app(app)


@pytest.fixture
def dashboard(dashboard_app: Flask) -> DashboardContext:
    """The app's dashboard context: its ledger, policy and settings, to arrange data with."""
    with dashboard_app.app_context():
        return context()


def signed_in(app: Flask, role: str | None) -> FlaskClient:
    """A client of `app` whose session is that of a user with `role` (None: a user with no role)."""
    client = app.test_client()
    with client.session_transaction() as stored:
        stored["user"] = stored_user(USERS[role])
    return client


def csrf_token(app: Flask, client: FlaskClient) -> str:
    """The CSRF token a form rendered for `client`'s session would carry."""
    with client.session_transaction() as stored:
        raw = stored.setdefault("csrf_token", secrets.token_hex(20))
    with app.test_request_context():
        session["csrf_token"] = raw
        return generate_csrf()


def sign_in_locally(app: Flask, client: FlaskClient, name: str, password: str = LOCAL_PASSWORD, *,
                    next_path: str | None = None, **headers: str):
    """POST /sign-in as the form does (with the client's CSRF token); the response."""
    form = {"csrf_token": csrf_token(app, client), "username": name, "password": password}
    if next_path is not None:
        form["next"] = next_path
    return client.post("/sign-in", data=form, headers=headers)


# A value for each URL converter, so every rule can be requested (a dummy id may well be a 404).
DUMMIES = {"IntegerConverter": 1, "FloatConverter": 1.0, "UUIDConverter": uuid.UUID(int=1)}


def dashboard_requests(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, URL) for every method of every rule of the dashboard's blueprints."""
    found = []
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in PAGES:
            continue
        values = {name: DUMMIES.get(type(converter).__name__, "dummy") for name, converter in rule._converters.items()}
        if rule.endpoint == "frame.static":
            values["filename"] = "dashboard.css"
        url = adapter.build(rule.endpoint, values)
        found.extend((rule.endpoint, method, url) for method in sorted(rule.methods - {"HEAD", "OPTIONS"}))
    return found


@pytest.fixture
def officer(dashboard_app: Flask) -> FlaskClient:
    return signed_in(dashboard_app, PRIVACY_OFFICER)


@pytest.fixture
def auditor(dashboard_app: Flask) -> FlaskClient:
    return signed_in(dashboard_app, AUDITOR)


@pytest.fixture
def admin(dashboard_app: Flask) -> FlaskClient:
    return signed_in(dashboard_app, ADMIN)
