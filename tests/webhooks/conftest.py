"""Fixtures for the web app: a migrated SQLite ledger, the app (with only the keys the web
process holds), its client, and known subscriptions."""
import base64
import os
from datetime import datetime

import pytest

from bookings_ledger.app import close_app, create_app
from database.engine import create_ledger_engine
from fresh_databases import copy_migrated
from webhook_items import NOW, TENANT, add_subscription


@pytest.fixture
def now() -> datetime:
    """The app's clock: it stands still at NOW."""
    return NOW


@pytest.fixture
def client_state_key():
    return os.urandom(32)


@pytest.fixture
def web_settings(tmp_path, client_state_key) -> dict[str, str]:
    """The web process's settings: a database, CLIENT_STATE_KEY and the tenant, no other key."""
    return {"DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}", "GRAPH_TENANT_ID": TENANT,
            "CLIENT_STATE_KEY": base64.b64encode(client_state_key).decode()}


@pytest.fixture
def app(web_settings):
    engine = create_ledger_engine(web_settings["DATABASE_URL"])
    copy_migrated(engine)
    engine.dispose()
    app = create_app(web_settings, clock=lambda: NOW)
    yield app
    close_app(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def subscription(app, client_state_key):
    """A subscription the service created, with its secret clientState."""
    return add_subscription(app, client_state_key)
