"""What the dashboard's tests share: the users by role, an app over a migrated database, signed-in
clients, CSRF tokens and a request for every dashboard route.

Signed-in clients hold a real server-side session: `signed_in` stores the user through the app's
own session interface (a row keyed by the token's hash, the token in the client's cookie), as
POST /sign-in would. `csrf_token(app, client)` is the token the client's next form would carry;
`sign_in_locally` signs in through the form; `dashboard_requests(app)` lists a request for every
method of every dashboard route in the app's URL map, so route tests cover routes added later.
(A module of its own, not conftest.py: several test folders have a conftest, and `from conftest
import` would find whichever was imported last.)
"""
from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import datetime, timezone

from flask import Flask, session
from flask.testing import FlaskClient
from flask_wtf.csrf import generate_csrf

from bookings_ledger.app import DASHBOARD, create_app
from dashboard import PAGES
from dashboard.roles import ADMIN, AUDITOR, PRIVACY_OFFICER, User
from dashboard.sessions import stored_user
from database.engine import create_ledger_engine
from fresh_databases import copy_migrated

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)
TENANT = "8f2c1a7e-3d4b-4c5e-9f60-7a8b9c0d1e2f"
LOCAL_PASSWORD = "correct horse battery staple"
USERS = {
    PRIVACY_OFFICER: User("local:officer", "Olivia Officer", frozenset({PRIVACY_OFFICER}), "local"),
    AUDITOR: User("local:auditor", "Aaron Auditor", frozenset({AUDITOR}), "local"),
    ADMIN: User("local:admin", "Ada Admin", frozenset({ADMIN}), "local"),
    None: User("local:nobody", "Norole Person", frozenset(), "local"),
}


def started_app(settings: dict[str, str], *, clock: Callable[[], datetime] = lambda: NOW,
                surfaces: frozenset[str] = frozenset({DASHBOARD})) -> Flask:
    """An app over a freshly migrated database (close it with `close_app`)."""
    engine = create_ledger_engine(settings["DATABASE_URL"])
    copy_migrated(engine)
    engine.dispose()
    app = create_app(settings, clock=clock, surfaces=surfaces)
    app.config["TESTING"] = True
    return app


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


