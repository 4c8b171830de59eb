"""Fixtures for the web app: a migrated SQLite ledger, the app, its client, known subscriptions."""
import base64
import os
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.orm import Session

from bookings_ledger.app import close_app, create_app
from database.engine import create_ledger_engine, upgrade
from state.subscriptions import new_client_state, save_subscription
from ledger.encryption import MasterKeys

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def now() -> datetime:
    """The app's clock: it stands still at NOW."""
    return NOW


@pytest.fixture
def master_key():
    return os.urandom(32)


@pytest.fixture
def app(tmp_path, master_key):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    upgrade(create_ledger_engine(url))
    app = create_app(
        {"DATABASE_URL": url, "LEDGER_MASTER_KEY": base64.b64encode(master_key).decode()}, clock=lambda: NOW
    )
    yield app
    close_app(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def subscription(app, master_key):
    """A subscription the service created, with its secret clientState."""
    engine = app.extensions["bookings_ledger.engine"]
    client_state = new_client_state()
    with Session(engine) as session, session.begin():
        save_subscription(
            session, MasterKeys(master_key), subscription_id="sub-1", business_id="clinic@contoso.com",
            resource="users/clinic@contoso.com/events", client_state=client_state,
            expires_at=NOW + timedelta(days=2), now=NOW,
        )
    return {"id": "sub-1", "client_state": client_state}
