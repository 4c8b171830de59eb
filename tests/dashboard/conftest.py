"""Fixtures for the dashboard: a migrated SQLite ledger with its key store, the app serving the
dashboard (with the ledger's keys, as its process holds them), and clients signed in by role
(helpers in dashboard_helpers.py)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bookings_ledger.app import close_app
from bookings_ledger.keys import generate_all_keys
from dashboard.context import DashboardContext, context
from dashboard.roles import ADMIN, AUDITOR, PRIVACY_OFFICER
from dashboard_helpers import LOCAL_PASSWORD, NOW, TENANT, signed_in, started_app


@pytest.fixture
def dashboard_settings(tmp_path: Path) -> dict[str, str]:
    """A dashboard process's settings: its own ledger and key store, the ledger's keys, local sign-in."""
    keys = {name: value for name, value in generate_all_keys().items() if name != "CLIENT_STATE_KEY"}
    return {**keys, "DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}", "KEYSTORE_URL": f"sqlite:///{tmp_path / 'keys.db'}",
            "GRAPH_TENANT_ID": TENANT, "AUTH_MODE": "local", "LOCAL_PASSWORD": LOCAL_PASSWORD,
            "CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
            # The public privacy page's forms share one small count per address; tests of it set their own.
            "PORTAL_RATE_LIMIT": "1000 per minute"}


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


@pytest.fixture
def officer(dashboard_app: Flask) -> FlaskClient:
    return signed_in(dashboard_app, PRIVACY_OFFICER)


@pytest.fixture
def auditor(dashboard_app: Flask) -> FlaskClient:
    return signed_in(dashboard_app, AUDITOR)


@pytest.fixture
def admin(dashboard_app: Flask) -> FlaskClient:
    return signed_in(dashboard_app, ADMIN)


@pytest.fixture
def portal_app(dashboard_settings, database_url, keystore_url, clock) -> Iterator[Flask]:
    """The dashboard app over a database of the parametrized backend, on the tests' `clock` (codes and
    links expire by it)."""
    app = started_app({**dashboard_settings, "DATABASE_URL": database_url, "KEYSTORE_URL": keystore_url}, clock=clock)
    yield app
    close_app(app)


@pytest.fixture
def api_app(database_factory, tmp_path: Path) -> Iterator[Flask]:
    """The dashboard's app (which serves /api/v1) over a fresh database of each backend."""
    keys = {name: value for name, value in generate_all_keys().items() if name != "CLIENT_STATE_KEY"}
    app = started_app({**keys, "DATABASE_URL": database_factory.new_url(), "KEYSTORE_URL": database_factory.new_database_url(),
                       "GRAPH_TENANT_ID": TENANT, "AUTH_MODE": "local", "LOCAL_PASSWORD": LOCAL_PASSWORD,
                       "CHECKPOINT_DIR": str(tmp_path / "checkpoints")})
    app.config["PROPAGATE_EXCEPTIONS"] = False   # a failing view is a 500 problem, as in production
    yield app
    close_app(app)


@pytest.fixture
def bearer(api_app: Flask) -> Callable[..., dict[str, str]]:
    """Headers with a new token of the given scopes (default: all), made `age` ago for `days`."""
    from state.api_tokens import SCOPES, create_token

    def headers(*scopes: str, days: int = 90, age: timedelta = timedelta(0)) -> dict[str, str]:
        with api_app.app_context():
            engine = context().engine
        issued = create_token(engine, "tests", scopes or SCOPES, NOW - age, days=days)
        return {"Authorization": f"Bearer {issued.token}"}

    return headers
