"""POST /webhooks/graph: handshake, strict parsing, clientState in constant time, inbox, 202."""
import pytest

from webhook_items import inbox_rows, lifecycle, metric, notification, post


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
    assert inbox_rows(app) == [(subscription["id"], "created", "AAMkAD-event-1")]


def test_a_new_version_of_the_same_event_is_a_new_row(app, client, subscription):
    post(client, notification(subscription, etag='W/"1"'))
    post(client, notification(subscription, etag='W/"2"', change="updated"))
    assert len(inbox_rows(app)) == 2


def test_forged_client_state_stores_nothing(app, client, subscription):
    response = post(client, notification(subscription, client_state="guessed-secret"))
    assert response.status_code == 202   # the same answer as a genuine one: it tells a forger nothing
    assert inbox_rows(app) == []
    assert metric(client, 'bl_notifications_rejected_total{reason="forged_client_state"}') == 1.0


def test_only_the_genuine_items_of_a_mixed_batch_are_stored(app, client, subscription):
    forged = notification(subscription, client_state="x" * 64, event_id="forged")
    post(client, forged, notification(subscription))
    assert [row.resource_id for row in inbox_rows(app)] == ["AAMkAD-event-1"]


def test_unknown_subscription_is_accepted_but_not_stored(app, client, subscription):
    stranger = dict(notification(subscription), subscriptionId="1b2c3d4e-0000-4000-8000-00000000abcd")
    assert post(client, stranger).status_code == 202
    assert inbox_rows(app) == []
    assert metric(client, 'bl_notifications_rejected_total{reason="unknown_subscription"}') == 1.0


def test_lifecycle_notification_is_queued_for_the_worker(app, client, subscription):
    assert post(client, lifecycle(subscription), path="/webhooks/graph/lifecycle").status_code == 202
    assert inbox_rows(app) == [(subscription["id"], "missed", None)]


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
