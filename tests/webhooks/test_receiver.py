"""POST /webhooks/graph: handshake, strict parsing, clientState in constant time, inbox, 202."""
import json

import pytest
from sqlalchemy import select

from state.inbox import InboxRow


def notification(subscription, *, client_state=None, event_id="AAMkAD-event-1", etag='W/"1"', change="created"):
    return {
        "subscriptionId": subscription["id"],
        "subscriptionExpirationDateTime": "2026-11-27T09:00:00.0000000Z",
        "clientState": client_state or subscription["client_state"],
        "changeType": change,
        "resource": f"Users/clinic@contoso.com/Events/{event_id}",
        "tenantId": "tenant-1",
        "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "@odata.id": f"Users/x/Events/{event_id}",
                         "@odata.etag": etag, "id": event_id},
    }


def post(client, *items, path="/webhooks/graph"):
    return client.post(path, data=json.dumps({"value": list(items)}), content_type="application/json")


def inbox_rows(app):
    engine = app.extensions["bookings_ledger.engine"]
    with engine.connect() as connection:
        return connection.execute(select(InboxRow.subscription_id, InboxRow.event, InboxRow.resource_id)).all()


def test_validation_handshake_echoes_the_decoded_token_as_text(client):
    """Graph's handshake: 200, text/plain, the URL-decoded token, before any parsing."""
    response = client.post("/webhooks/graph?validationToken=Validation%3A%20Testing%20%3Cscript%3E", data=b"")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == "Validation: Testing <script>"


def test_lifecycle_endpoint_answers_its_own_handshake(client):
    response = client.post("/webhooks/graph/lifecycle?validationToken=abc", data=b"")
    assert (response.status_code, response.get_data(as_text=True)) == (200, "abc")


def test_genuine_notification_is_stored_once_and_acknowledged(app, client, subscription):
    item = notification(subscription)
    assert post(client, item, item).status_code == 202
    assert post(client, item).status_code == 202   # Graph's retry of the same delivery
    assert inbox_rows(app) == [("sub-1", "created", "AAMkAD-event-1")]


def test_a_new_version_of_the_same_event_is_a_new_row(app, client, subscription):
    post(client, notification(subscription, etag='W/"1"'))
    post(client, notification(subscription, etag='W/"2"', change="updated"))
    assert len(inbox_rows(app)) == 2


def test_forged_client_state_stores_nothing(app, client, subscription):
    response = post(client, notification(subscription, client_state="guessed-secret"))
    assert response.status_code == 202   # the same answer as a genuine one: it tells a forger nothing
    assert inbox_rows(app) == []
    assert _metric(client, 'bl_notifications_rejected_total{reason="forged_client_state"}') == 1.0


def test_only_the_genuine_items_of_a_mixed_batch_are_stored(app, client, subscription):
    forged = notification(subscription, client_state="x" * 64, event_id="forged")
    post(client, forged, notification(subscription))
    assert [row.resource_id for row in inbox_rows(app)] == ["AAMkAD-event-1"]


def test_unknown_subscription_is_accepted_but_not_stored(app, client, subscription):
    stranger = dict(notification(subscription), subscriptionId="someone-elses")
    assert post(client, stranger).status_code == 202
    assert inbox_rows(app) == []
    assert _metric(client, 'bl_notifications_rejected_total{reason="unknown_subscription"}') == 1.0


def test_lifecycle_notification_is_queued_for_the_worker(app, client, subscription):
    item = {"subscriptionId": "sub-1", "clientState": subscription["client_state"], "lifecycleEvent": "missed",
            "tenantId": "tenant-1", "subscriptionExpirationDateTime": "2026-11-27T09:00:00Z"}
    assert post(client, item, path="/webhooks/graph/lifecycle").status_code == 202
    assert inbox_rows(app) == [("sub-1", "missed", None)]


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b'{"value": []}', "application/json", 400),
        (b'{"value": [{"subscriptionId": 5}]}', "application/json", 400),
        (b'{"value": "x"}', "application/json", 400),
        (b"[]", "application/json", 400),
        (b'{"value": [1]}', "text/plain", 415),
        (b"x" * (1024 * 1024 + 1), "application/json", 413),
    ],
    ids=["not-json", "empty", "wrong-type", "value-not-list", "array", "wrong-media-type", "oversized"],
)
def test_bad_requests_get_a_problem_and_store_nothing(app, client, body, content_type, status):
    response = client.post("/webhooks/graph", data=body, content_type=content_type)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == status
    assert inbox_rows(app) == []


def test_problem_names_paths_never_values(client, subscription):
    item = notification(subscription)
    item["changeType"] = "jane.doe@example.com"
    response = post(client, item)
    assert response.status_code == 400
    assert "value/0/changeType" in response.get_json()["detail"]
    assert "jane.doe" not in response.get_data(as_text=True)


def _metric(client, name):
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not exported")
