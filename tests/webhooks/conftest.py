"""Fixtures for the web app: a migrated SQLite ledger, the app (with only the keys the web
process holds), its client, and known subscriptions."""
import base64
import os
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from bookings_ledger.app import close_app, create_app
from database.engine import create_ledger_engine, upgrade
from state.client_states import ClientStateKeys, new_client_state
from state.subscriptions import save_subscription
from webhook_items import MAILBOX, MAILBOX_USER_ID, NOW, TENANT


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
    upgrade(create_ledger_engine(web_settings["DATABASE_URL"]))
    app = create_app(web_settings, clock=lambda: NOW)
    yield app
    close_app(app)


@pytest.fixture
def client(app):
    return app.test_client()


def add_subscription(app, client_state_key: bytes, **values) -> dict[str, str]:
    """Store a subscription the service created (a GUID id, its own secret) and return id and secret."""
    engine = app.extensions["bookings_ledger.engine"]
    subscription_id, client_state = values.pop("subscription_id", str(uuid.uuid4())), new_client_state()
    with Session(engine) as session, session.begin():
        save_subscription(
            session, ClientStateKeys(client_state_key), subscription_id=subscription_id, business_id=MAILBOX,
            resource=f"users/{MAILBOX}/events", client_state=client_state, expires_at=NOW + timedelta(days=2),
            now=NOW, mailbox_user_id=MAILBOX_USER_ID, **values,
        )
    return {"id": subscription_id, "client_state": client_state}


@pytest.fixture
def subscription(app, client_state_key):
    """A subscription the service created, with its secret clientState."""
    return add_subscription(app, client_state_key)
