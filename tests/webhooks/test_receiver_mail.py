"""POST /webhooks/graph for the privacy mailbox's Inbox subscription: messages in, nothing else."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from state.client_states import ClientStateKeys, new_client_state
from state.subscriptions import save_subscription
from webhook_items import MAILBOX, MAILBOX_USER_ID, NOW, inbox_rows, metric, notification, post

PRIVACY = "privacy@contoso.com"


@pytest.fixture
def inbox_subscription(app, client_state_key):
    """The Inbox subscription the service made on the privacy mailbox."""
    engine = app.extensions["bookings_ledger.engine"]
    subscription_id, client_state = str(uuid.uuid4()), new_client_state()
    with Session(engine) as session, session.begin():
        save_subscription(session, ClientStateKeys(client_state_key), subscription_id=subscription_id,
                          business_id=PRIVACY, resource=f"users/{PRIVACY}/mailFolders('Inbox')/messages",
                          client_state=client_state, expires_at=NOW + timedelta(days=2), now=NOW,
                          mailbox_user_id=MAILBOX_USER_ID)
    return {"id": subscription_id, "client_state": client_state}


def message_notification(subscription, *, owner=MAILBOX_USER_ID, message_id="AAMkAD-message-1", data_id=None):
    """A created notification for a message, as Graph names it: Users/{id}/Messages/{id}."""
    item = notification(subscription)
    resource = f"Users/{owner}/Messages/{message_id}"
    item["resource"] = resource
    item["resourceData"] = {"@odata.type": "#Microsoft.Graph.Message", "@odata.id": resource,
                            "@odata.etag": 'W/"CQAAABYAAAA"', "id": data_id or message_id}
    return item


def test_a_new_message_of_the_privacy_mailbox_is_stored_for_the_worker(app, client, inbox_subscription):
    assert post(client, message_notification(inbox_subscription)).status_code == 202
    assert inbox_rows(app) == [(inbox_subscription["id"], "created", "AAMkAD-message-1")]


def test_the_quoted_spelling_of_a_message_resource_is_accepted(app, client, inbox_subscription):
    item = message_notification(inbox_subscription)
    item["resource"] = f"Users('{MAILBOX_USER_ID}')/Messages('AAMkAD-message-1')"
    post(client, item)
    assert len(inbox_rows(app)) == 1


@pytest.mark.parametrize("change", [
    {"owner": "someone-else@contoso.com"},          # another mailbox's mail
    {"data_id": "AAMkAD-message-2"},                 # resourceData naming another message
])
def test_a_message_outside_the_subscription_is_refused(app, client, inbox_subscription, change):
    post(client, message_notification(inbox_subscription, **change))
    assert inbox_rows(app) == []
    assert metric(client, 'bl_notifications_rejected_total{reason="wrong_resource"}') == 1.0


def test_an_event_resource_on_the_inbox_subscription_is_refused(app, client, inbox_subscription):
    """The Inbox subscription's secret cannot be used to make the worker read calendar events."""
    post(client, notification(inbox_subscription))
    assert inbox_rows(app) == []
    assert metric(client, 'bl_notifications_rejected_total{reason="wrong_resource"}') == 1.0


def test_a_message_resource_on_a_calendar_subscription_is_refused(app, client, subscription):
    """Nor can a business's calendar secret have the worker read that mailbox's mail."""
    post(client, message_notification(subscription))
    assert inbox_rows(app) == []
    assert metric(client, 'bl_notifications_rejected_total{reason="wrong_resource"}') == 1.0
    assert MAILBOX != PRIVACY
