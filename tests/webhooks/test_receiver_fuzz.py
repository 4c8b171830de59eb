"""Thousands of malformed, oversized, wrongly typed and forged requests: never a 5xx, never a
stored row from a forged clientState, never a notification's content in the logs."""
import json
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from state.inbox import InboxRow
from webhook_items import TENANT

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
FIELDS = ["subscriptionId", "clientState", "changeType", "resource", "resourceData", "tenantId",
          "subscriptionExpirationDateTime", "lifecycleEvent", "id"]
PLANTED = "jane.doe@example.com"


def forged_items(subscription_id):
    """Well-shaped items for a real subscription with every kind of wrong clientState."""
    return st.fixed_dictionaries({
        "subscriptionId": st.just(subscription_id),
        "clientState": st.text(min_size=1, max_size=128),
        "changeType": st.sampled_from(["created", "updated", "deleted"]),
        "resource": st.just(f"Users/{PLANTED}/Events/x"),
        "tenantId": st.just(TENANT),   # the right tenant: only the clientState is wrong
        "resourceData": st.fixed_dictionaries({"id": st.text(min_size=1, max_size=20)}),
        "lifecycleEvent": st.sampled_from(["missed", "subscriptionRemoved", "reauthorizationRequired"]),
    })


def mutated_items():
    return st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=len(FIELDS))


bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.lists(mutated_items(), max_size=5).map(lambda items: json.dumps({"value": items}).encode()),
)


def count_rows(app):
    with app.extensions["bookings_ledger.engine"].connect() as connection:
        return connection.execute(select(func.count()).select_from(InboxRow)).scalar_one()


@pytest.mark.slow   # thousands of requests: collected first, so it never runs alone at the end
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, path=st.sampled_from(["/webhooks/graph", "/webhooks/graph/lifecycle"]),
       content_type=st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", ""]))
def test_malformed_requests_never_cause_a_server_error(client, body, path, content_type):
    response = client.post(path, data=body, content_type=content_type)
    assert response.status_code in (202, 400, 413, 415)


@pytest.mark.slow
@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_forged_client_state_never_reaches_the_inbox(app, client, subscription, data):
    items = data.draw(st.lists(forged_items(subscription["id"]), min_size=1, max_size=5))
    items = [item for item in items if item["clientState"] != subscription["client_state"]]
    for path in ("/webhooks/graph", "/webhooks/graph/lifecycle"):
        response = client.post(path, data=json.dumps({"value": items}), content_type="application/json")
        assert response.status_code in (202, 400)
    assert count_rows(app) == 0


def test_nothing_a_notification_carries_reaches_the_logs(client, subscription, caplog):
    caplog.set_level(logging.DEBUG)
    item = {"subscriptionId": subscription["id"], "clientState": "forged", "changeType": PLANTED,
            "resource": f"Users/{PLANTED}/Events/1", "resourceData": {"id": PLANTED}}
    for content_type in ("application/json", "text/plain"):
        client.post("/webhooks/graph", data=json.dumps({"value": [item]}), content_type=content_type)
    item["changeType"] = "created"
    client.post("/webhooks/graph", data=json.dumps({"value": [item]}), content_type="application/json")
    assert PLANTED not in caplog.text
    assert subscription["client_state"] not in caplog.text
