"""Fixtures for the dashboard: a migrated SQLite ledger with its key store, the app serving the
dashboard (with the ledger's keys, as its process holds them), and clients signed in by role."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bookings_ledger.app import DASHBOARD, close_app, create_app
from bookings_ledger.keys import generate_all_keys
from dashboard.context import DashboardContext, context
from dashboard.roles import ADMIN, AUDITOR, PRIVACY_OFFICER, User
from database.engine import create_ledger_engine, upgrade

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)
TENANT = "8f2c1a7e-3d4b-4c5e-9f60-7a8b9c0d1e2f"
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
            "GRAPH_TENANT_ID": TENANT, "AUTH_MODE": "local", "LOCAL_PASSWORD": "correct horse battery staple",
            "CHECKPOINT_DIR": str(tmp_path / "checkpoints")}


@pytest.fixture
def dashboard_app(dashboard_settings: dict[str, str]) -> Iterator[Flask]:
    upgrade(create_ledger_engine(dashboard_settings["DATABASE_URL"]))
    app = create_app(dashboard_settings, clock=lambda: NOW, surfaces=frozenset({DASHBOARD}))
    app.config["TESTING"] = True
    yield app
    close_app(app)


@pytest.fixture
def dashboard(dashboard_app: Flask) -> DashboardContext:
    """The app's dashboard context: its ledger, policy and settings, to arrange data with."""
    with dashboard_app.app_context():
        return context()


def signed_in(app: Flask, role: str | None) -> FlaskClient:
    """A client of `app` whose session is that of a user with `role` (None: a user with no role)."""
    from dashboard.sessions import sign_in

    client = app.test_client()
    with app.test_request_context():
        sign_in(USERS[role])
        # Carry the session the sign-in made over to the client, as a browser would.
        from flask import session
        saved = dict(session)
    with client.session_transaction() as transaction:
        transaction.update(saved)
    return client


@pytest.fixture
def officer(dashboard_app: Flask) -> FlaskClient:
    return signed_in(dashboard_app, PRIVACY_OFFICER)


@pytest.fixture
def auditor(dashboard_app: Flask) -> FlaskClient:
    return signed_in(dashboard_app, AUDITOR)


@pytest.fixture
def admin(dashboard_app: Flask) -> FlaskClient:
    return signed_in(dashboard_app, ADMIN)
