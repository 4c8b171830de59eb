"""Notification delivery: a booking reaches the endpoint; retries, faults, lifecycle events (§2.5–2.7)."""

from __future__ import annotations

import time

import httpx

from emulator_helpers import Receiver, eventually, new_appointment, subscribe


def test_a_booking_reaches_the_subscribed_endpoint_as_an_event_notification(client: httpx.Client, business: str,
                                                                             receiver: Receiver) -> None:
    """Create through the Bookings API → a created notification for the mailbox event, in Graph's shape."""
    subscription = subscribe(client, business, receiver.url).json()
    appointment = new_appointment(client, business)
    assert receiver.wait_for(lambda r: r.notifications(), timeout=10)
    item = receiver.notifications()[0]
    assert item["subscriptionId"] == subscription["id"] and item["clientState"] == "s3cret"
    assert item["changeType"] == "created" and item["subscriptionExpirationDateTime"] == subscription["expirationDateTime"]
    assert item["tenantId"] and item["resource"].startswith("Users/") and "/Events/" in item["resource"]
    data = item["resourceData"]
    assert data["@odata.type"] == "#Microsoft.Graph.Event" and data["@odata.id"] == item["resource"]
    assert data["@odata.etag"].startswith('W/"') and data["id"] == item["resource"].rsplit("/", 1)[1]
    # The event id is not the appointment id (UNCONFIRMED in Graph; the emulator takes the harder case).
    assert data["id"] != appointment["id"]


def test_updates_and_cancellations_are_notified(client: httpx.Client, business: str, receiver: Receiver) -> None:
    """PATCH → updated, cancel → deleted, for the same event id."""
    subscribe(client, business, receiver.url)
    appointment = new_appointment(client, business)
    url = f"/solutions/bookingBusinesses/{business}/appointments/{appointment['id']}"
    client.patch(url, json={"serviceNotes": "moved"})
    client.post(url + "/cancel", json={"cancellationMessage": "bye"})
    assert receiver.wait_for(lambda r: len(r.notifications()) >= 3)
    kinds = [n["changeType"] for n in receiver.notifications()]
    assert kinds == ["created", "updated", "deleted"]
    assert len({n["resourceData"]["id"] for n in receiver.notifications()}) == 1


def test_changes_close_together_arrive_batched_in_one_post(client: httpx.Client, control: httpx.Client, business: str,
                                                           receiver: Receiver) -> None:
    """One POST can carry several notifications in its value array (§2.5)."""
    control.post("/options", json={"batch_window_s": 0.5})
    subscribe(client, business, receiver.url)
    for day in range(3):
        new_appointment(client, business, start=f"2030-01-1{day}T10:00:00")
    assert receiver.wait_for(lambda r: len(r.notifications()) >= 3)
    assert len(receiver.posts) == 1 and len(receiver.posts[0]["value"]) == 3


def test_a_failing_endpoint_is_retried_until_it_accepts(client: httpx.Client, business: str, receiver: Receiver) -> None:
    """No 2xx → Graph resends (§2.6); the item arrives once the endpoint recovers."""
    subscribe(client, business, receiver.url)
    receiver.fail_first = 2
    new_appointment(client, business)
    assert receiver.wait_for(lambda r: r.notifications(), timeout=10)
    outcomes = [entry["outcome"] for entry in httpx.get(client.base_url.join("/_emulator/notifications")).json()["log"]]
    assert outcomes == ["retrying", "retrying", "delivered"]


def test_a_slow_endpoint_is_retried(client: httpx.Client, control: httpx.Client, business: str, receiver: Receiver) -> None:
    """A response slower than the delivery timeout (3 s in Graph) counts as a failure and is retried."""
    subscribe(client, business, receiver.url)
    control.post("/options", json={"delivery_timeout_s": 0.2})
    receiver.delay = 0.5
    new_appointment(client, business)
    assert receiver.wait_for(lambda r: len(r.notifications()) >= 2, timeout=10)  # the endpoint got it late, twice
    log = control.get("/notifications").json()["log"]
    assert log[0]["outcome"] == "retrying" and log[0]["result"] == "ReadTimeout"


def test_a_post_in_flight_is_pending_until_it_is_answered(client: httpx.Client, control: httpx.Client, business: str,
                                                         receiver: Receiver) -> None:
    """`pending` reaches 0 only once the endpoint has answered, so a test that waits for it can read
    what the endpoint stored; sampled while the endpoint takes a second to answer."""
    subscribe(client, business, receiver.url)
    receiver.delay = 1.0
    new_appointment(client, business)

    def report() -> tuple[int, list[str]]:
        body = control.get("/notifications").json()
        return body["pending"], [entry["outcome"] for entry in body["log"]]

    assert eventually(lambda: report() != (0, []), timeout=10)   # queued
    samples = [report()]
    while "delivered" not in samples[-1][1] and len(samples) < 400:
        time.sleep(0.025)
        samples.append(report())
    # A first attempt may meet a stale keep-alive connection and be retried: still pending.
    assert samples[-1][0] == 0 and samples[-1][1][-1] == "delivered", samples[-1]
    assert all(pending == 1 for pending, outcomes in samples if "delivered" not in outcomes), samples


def test_retries_stop_at_the_horizon_and_a_missed_event_follows(client: httpx.Client, control: httpx.Client, business: str,
                                                                receiver: Receiver) -> None:
    """After the retry horizon (4 h in Graph) the notification is dropped; the lifecycle URL hears ``missed``."""
    control.post("/options", json={"retry_horizon_s": 0.3})
    subscribe(client, business, receiver.url, lifecycle=receiver.url)
    receiver.fail_first = 100
    new_appointment(client, business)
    assert eventually(lambda: any(n["outcome"] == "dropped" for n in control.get("/notifications").json()["log"]))
    receiver.fail_first = 0
    assert receiver.wait_for(lambda r: r.notifications(kind="lifecycleEvent"), timeout=10)
    assert receiver.notifications(kind="lifecycleEvent")[0]["lifecycleEvent"] == "missed"


def test_dropped_notifications_produce_a_missed_lifecycle_event(client: httpx.Client, control: httpx.Client, business: str,
                                                                receiver: Receiver) -> None:
    """Fault: every notification dropped → nothing arrives, ``missed`` arrives instead (§2.7)."""
    created = subscribe(client, business, receiver.url, lifecycle=receiver.url).json()
    control.post("/faults", json={"notifications": {"drop": 1.0}})
    new_appointment(client, business)
    assert receiver.wait_for(lambda r: r.notifications(kind="lifecycleEvent"))
    event = receiver.notifications(kind="lifecycleEvent")[0]
    assert event == {"subscriptionId": created["id"], "subscriptionExpirationDateTime": created["expirationDateTime"],
                     "tenantId": event["tenantId"], "clientState": "s3cret", "lifecycleEvent": "missed"}
    assert receiver.notifications() == []


def test_duplicated_notifications_arrive_twice(client: httpx.Client, control: httpx.Client, business: str, receiver: Receiver) -> None:
    """Fault: duplicates (at-least-once delivery)."""
    subscribe(client, business, receiver.url)
    control.post("/faults", json={"notifications": {"duplicate": 1.0}})
    new_appointment(client, business)
    assert receiver.wait_for(lambda r: len(r.notifications()) >= 2)
    first, second = receiver.notifications()[:2]
    assert first["resourceData"] == second["resourceData"]


def test_reordered_notifications_arrive_out_of_order(client: httpx.Client, control: httpx.Client, business: str,
                                                     receiver: Receiver) -> None:
    """Fault: a held-back notification is overtaken by a later one."""
    subscribe(client, business, receiver.url)
    control.post("/faults", json={"notifications": {"reorder": 1.0}})
    appointment = new_appointment(client, business)
    control.delete("/faults")
    client.patch(f"/solutions/bookingBusinesses/{business}/appointments/{appointment['id']}", json={"serviceNotes": "x"})
    assert receiver.wait_for(lambda r: len(r.notifications()) >= 2)
    assert [n["changeType"] for n in receiver.notifications()] == ["updated", "created"]


def test_lifecycle_events_can_be_triggered(client: httpx.Client, control: httpx.Client, business: str, receiver: Receiver) -> None:
    """Control API: reauthorizationRequired keeps the subscription; subscriptionRemoved deletes it."""
    created = subscribe(client, business, receiver.url, lifecycle=receiver.url).json()
    for event in ("reauthorizationRequired", "subscriptionRemoved"):
        assert control.post("/lifecycle", json={"subscriptionId": created["id"], "lifecycleEvent": event}).status_code == 204
    assert receiver.wait_for(lambda r: len(r.notifications(kind="lifecycleEvent")) >= 2)
    assert sorted(n["lifecycleEvent"] for n in receiver.notifications(kind="lifecycleEvent")) == ["reauthorizationRequired", "subscriptionRemoved"]
    assert client.get(f"/subscriptions/{created['id']}").status_code == 404


def test_reauthorization_is_required_as_expiry_nears(client: httpx.Client, control: httpx.Client, business: str,
                                                     receiver: Receiver) -> None:
    """Close to expiry Graph challenges with reauthorizationRequired (§2.7)."""
    subscribe(client, business, receiver.url, lifecycle=receiver.url)
    control.post("/clock", json={"advanceMinutes": 4000 - 30})
    assert receiver.wait_for(lambda r: r.notifications(kind="lifecycleEvent"))
    assert receiver.notifications(kind="lifecycleEvent")[0]["lifecycleEvent"] == "reauthorizationRequired"


def test_an_endpoint_slow_too_often_is_throttled_then_dropped(client: httpx.Client, control: httpx.Client, business: str,
                                                              receiver: Receiver) -> None:
    """≥10 % slow after the sample → throttled; ≥15 % → dropped (§2.6; sample of 100 shrunk to 4)."""
    control.post("/options", json={"slow_min_samples": 4, "slow_threshold_s": 0.05, "throttle_delay_s": 60, "batch_window_s": 0})
    subscribe(client, business, receiver.url, lifecycle=receiver.url + "?lifecycle=1")
    receiver.delay = 0.1
    for day in range(4):
        new_appointment(client, business, start=f"2030-02-1{day}T10:00:00")
        assert receiver.wait_for(lambda r, n=day + 1: len(r.notifications()) >= n)
    assert eventually(lambda: control.get("/notifications").json()["endpoints"][receiver.url] == {"sent": 4, "slow": 4, "state": "dropping"})
    new_appointment(client, business, start="2030-02-20T10:00:00")
    assert receiver.wait_for(lambda r: r.notifications(kind="lifecycleEvent"))
    assert len(receiver.notifications()) == 4  # the fifth was dropped; a missed event went out instead


def test_a_throttled_endpoint_gets_its_notifications_late(client: httpx.Client, control: httpx.Client, business: str,
                                                          receiver: Receiver) -> None:
    """≥10 % slow (but under the drop line) → throttled: later notifications are delayed (10 min in Graph, 1 s here)."""
    control.post("/options", json={"slow_min_samples": 2, "slow_threshold_s": 0.05, "slow_drop_ratio": 2.0,
                                   "throttle_delay_s": 1.0, "batch_window_s": 0})
    subscribe(client, business, receiver.url)
    receiver.delay = 0.1
    for day in range(2):
        new_appointment(client, business, start=f"2030-03-1{day}T10:00:00")
        assert receiver.wait_for(lambda r, n=day + 1: len(r.notifications()) >= n)
    assert eventually(lambda: control.get("/notifications").json()["endpoints"][receiver.url]["state"] == "throttled")
    receiver.delay = 0
    created = time.monotonic()
    new_appointment(client, business, start="2030-03-20T10:00:00")
    assert receiver.wait_for(lambda r: len(r.notifications()) >= 3)
    assert time.monotonic() - created >= 1.0
