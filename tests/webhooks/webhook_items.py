"""What Graph posts, built for tests: change and lifecycle items, and helpers to post and look."""
import json
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from state.client_states import ClientStateKeys, new_client_state
from state.inbox import InboxRow
from state.subscriptions import save_subscription

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)   # the test app's clock stands still here
TENANT = "6f1b8c2e-3d4a-4b5c-9e8f-7a6b5c4d3e2f"
MAILBOX = "clinic@contoso.com"
MAILBOX_USER_ID = "0d9e8f7a-6b5c-4d3e-2f1a-0b9c8d7e6f5a"   # what Graph names the mailbox by in resources


def notification(subscription, *, client_state=None, event_id="AAMkAD-event-1", etag='W/"1"', change="created"):
    """A change notification as Graph sends it (graph-facts §2.5)."""
    resource = f"Users/{MAILBOX_USER_ID}/Events/{event_id}"
    return {
        "subscriptionId": subscription["id"],
        "subscriptionExpirationDateTime": "2026-11-27T09:00:00.0000000Z",
        "clientState": client_state or subscription["client_state"],
        "changeType": change,
        "resource": resource,
        "tenantId": TENANT,
        "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "@odata.id": resource,
                         "@odata.etag": etag, "id": event_id},
    }


def lifecycle(subscription, event="missed", **changes):
    """A lifecycle notification as Graph sends it (graph-facts §2.7)."""
    return {"subscriptionId": subscription["id"], "clientState": subscription["client_state"], "lifecycleEvent": event,
            "tenantId": TENANT, "subscriptionExpirationDateTime": "2026-11-27T09:00:00Z", **changes}


def post(client, *items, path="/webhooks/graph"):
    """POST the items as one notification collection."""
    return client.post(path, data=json.dumps({"value": list(items)}), content_type="application/json")


def inbox_rows(app):
    """(subscription id, event, resource id) of every inbox row."""
    engine = app.extensions["bookings_ledger.engine"]
    with engine.connect() as connection:
        return connection.execute(select(InboxRow.subscription_id, InboxRow.event, InboxRow.resource_id)).all()


def metric(client, name):
    """The value of one exported sample, e.g. 'bl_notifications_rejected_total{reason="wrong_tenant"}'."""
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not exported")


def add_subscription(app, client_state_key: bytes, **values) -> dict[str, str]:
    """Store a subscription the service created (a GUID id, its own secret) and return id and secret."""
    engine = app.extensions["bookings_ledger.engine"]
    subscription_id, client_state = values.pop("subscription_id", str(uuid.uuid4())), new_client_state()
    with Session(engine) as session, session.begin():
        save_subscription(
            session, ClientStateKeys(client_state_key), subscription_id=subscription_id, business_id=MAILBOX,
            resource=f"users/{MAILBOX}/events", client_state=client_state, expires_at=NOW + timedelta(days=2),
            now=NOW, **{"mailbox_user_id": MAILBOX_USER_ID, **values},
        )
    return {"id": subscription_id, "client_state": client_state}
