"""`subscribe --rotate-client-state`: every subscription gets a new secret with no notification lost.

Graph documents no PATCH of a clientState (graph-facts §2.2), so each subscription gets a successor before
it is deleted. Through the real web app, against the emulator: a change before, one while both
subscriptions live, one after, and a retry of the old subscription's delivery inside the grace
period are each stored exactly once per delivery Graph made; after the grace the old secret is dead."""
from __future__ import annotations

import json
import time
import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from config import load_settings
from ingestion_pipeline import wait_delivered
from jobs.subscriptions import CLIENT_STATE_GRACE, SubscriptionManager
from state import subscription_lookup
from state.client_states import ClientStateKeys
from state.inbox import InboxRow
from state.subscriptions import GraphSubscription


class ChangeBeforeDelete:
    """The connector's subscriptions, making a booking change just before each delete reaches Graph."""

    def __init__(self, subscriptions, change) -> None:
        self._subscriptions, self._change = subscriptions, change

    def __getattr__(self, name):
        return getattr(self._subscriptions, name)

    def delete(self, subscription_id: str) -> None:
        self._change()
        self._subscriptions.delete(subscription_id)


def inbox(service) -> list[tuple[str, str]]:
    with Session(service.ledger.engine) as session:
        return [(r.subscription_id, r.resource_id) for r in session.scalars(select(InboxRow))]


def test_rotation_loses_no_notification_and_retires_the_old_secret(service, graph, control, emulator, monkeypatch):
    # The web app reuses a subscription row for 30 s of real time; this test warps hours in seconds.
    monkeypatch.setattr(subscription_lookup, "KNOWN_TTL_SECONDS", 0.0)
    business = control.seed(appointments=6)[0]
    appointments = [a["id"] for a in control.state()["businesses"][0]["appointments"]]
    event_of = emulator.emulator.mailboxes.event_id

    def change(appointment_id: str) -> None:
        with httpx.Client(base_url=emulator.graph_url, headers={"Authorization": "Bearer test"}) as http:
            http.patch(f"/solutions/bookingBusinesses/{business}/appointments/{appointment_id}",
                       json={"serviceNotes": f"changed {appointment_id}"}).raise_for_status()
        wait_delivered(control)

    keys = ClientStateKeys.from_settings(load_settings(service.settings))
    manager = SubscriptionManager(service.ledger, ChangeBeforeDelete(graph.subscriptions, lambda: change(appointments[1])),
                                  businesses=[business], public_base_url=service.base_url, client_state_keys=keys)
    manager.ensure_all()
    [old] = control.live_subscriptions()
    change(appointments[0])                                  # before

    report = manager.rotate_client_states()                  # during: a change while both are live
    [new] = control.live_subscriptions()
    change(appointments[2])                                  # after

    assert report.rotated == [business] and new["id"] != old["id"] and new["clientState"] != old["clientState"]
    before, during, after = (event_of(a) for a in appointments[:3])
    expected = sorted([(old["id"], before), (old["id"], during), (new["id"], during), (new["id"], after)])
    assert inbox_once_settled(service) == expected

    # Graph retries a delivery of the old subscription for hours: accepted during the grace period…
    late = _late_delivery(service, old, event_of(appointments[3]))
    assert _post(service, late) == 202 and (old["id"], event_of(appointments[3])) in inbox(service)
    # …and refused after it.
    control.advance(seconds=CLIENT_STATE_GRACE.total_seconds() + 60)
    assert _post(service, _late_delivery(service, old, event_of(appointments[4]))) == 202
    assert (old["id"], event_of(appointments[4])) not in inbox(service)
    with Session(service.ledger.engine) as session:
        states = dict(session.execute(select(GraphSubscription.subscription_id, GraphSubscription.state)).all())
    assert states == {old["id"]: "rotated", new["id"]: "active"}


def inbox_once_settled(service, timeout: float = 10.0) -> list[tuple[str, str]]:
    """The inbox once the last POST in flight has landed (the emulator's queue empties as it sends)."""
    deadline, rows = time.monotonic() + timeout, sorted(inbox(service))
    while time.monotonic() < deadline:
        time.sleep(0.5)
        again = sorted(inbox(service))
        if again == rows:
            return rows
        rows = again
    return rows


def _late_delivery(service, subscription: dict, event_id: str) -> dict:
    """A change notification for `subscription` as Graph sends it (resource named by the mailbox address)."""
    owner = subscription["resource"].split("/")[1]
    return {"subscriptionId": subscription["id"], "clientState": subscription["clientState"], "changeType": "updated",
            "tenantId": service.settings["GRAPH_TENANT_ID"], "resource": f"Users/{owner}/Events/{event_id}",
            "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "id": event_id}}


def _post(service, item: dict) -> int:
    return httpx.post(f"{service.base_url}/webhooks/graph", content=json.dumps({"value": [item]}),
                      headers={"Content-Type": "application/json"}).status_code
