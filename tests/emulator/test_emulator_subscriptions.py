"""Subscriptions: handshake, limits, renewal, expiry and quota as Graph documents them (§2.2–2.4)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from emulator_helpers import Receiver, subscribe


def _in(minutes: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(minutes=minutes)).isoformat()


def _minutes_left(subscription: dict) -> float:
    expiry = datetime.fromisoformat(subscription["expirationDateTime"].replace("Z", "+00:00"))
    return (expiry - datetime.now(timezone.utc)).total_seconds() / 60


def test_create_runs_the_handshake_on_both_urls_and_answers_201(client: httpx.Client, business: str, receiver: Receiver) -> None:
    """text/plain POST with ?validationToken= to notificationUrl and lifecycleNotificationUrl, then 201."""
    response = subscribe(client, business, receiver.url, lifecycle=receiver.url + "?kind=lifecycle")
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["@odata.context"].endswith("$metadata#subscriptions/$entity")
    assert created["resource"] == f"users/{business}/events" and created["clientState"] == "s3cret"
    assert created["changeType"] == "created,updated,deleted" and created["latestSupportedTlsVersion"] == "v1_2"
    assert len(receiver.validations) == 2
    assert all(v["contentType"].startswith("text/plain") for v in receiver.validations)
    assert " " in receiver.validations[0]["token"]  # opaque text that must be URL-decoded before echoing


@pytest.mark.parametrize(("mode", "message"), [
    ("wrong", "Subscription validation request failed. Response must exactly match validationToken query parameter."),
    ("encoded", "Subscription validation request failed. Response must exactly match validationToken query parameter."),
    ("forbidden", "Subscription validation request failed. HTTP status code is 'Forbidden'."),
])
def test_an_endpoint_that_does_not_echo_the_token_fails_creation(client: httpx.Client, business: str, receiver: Receiver,
                                                                 mode: str, message: str) -> None:
    """No subscription without a correct echo: 400 InvalidRequest, as Graph fails."""
    receiver.handshake = mode
    response = subscribe(client, business, receiver.url)
    assert response.status_code == 400
    assert response.json()["error"] == {**response.json()["error"], "code": "InvalidRequest", "message": message}
    assert client.get("/subscriptions").json()["value"] == []


def test_a_slow_handshake_times_out(client: httpx.Client, control: httpx.Client, business: str, receiver: Receiver) -> None:
    """Slower than the validation timeout (10 s in Graph, shrunk here): "Subscription validation request timed out." """
    control.post("/options", json={"validation_timeout_s": 0.3})
    receiver.handshake_delay = 1.0
    response = subscribe(client, business, receiver.url)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "Subscription validation request timed out."


def test_an_unreachable_endpoint_fails_creation(client: httpx.Client, business: str) -> None:
    """Nothing listening: creation fails with InvalidRequest."""
    response = subscribe(client, business, "http://127.0.0.1:9/hook")
    assert response.status_code == 400 and response.json()["error"]["code"] == "InvalidRequest"


@pytest.mark.parametrize(("change", "fragment"), [
    ({"notificationUrl": "http://example.org/hook"}, "https"),
    ({"clientState": "x" * 129}, "128"),
    ({"changeType": "created,renamed"}, "changeType"),
    ({"resource": "solutions/bookingBusinesses/x/appointments"}, "not supported"),
    ({"expirationDateTime": _in(4300)}, "Subscription expiration can only be 4230 minutes in the future."),
])
def test_invalid_subscriptions_are_refused(client: httpx.Client, business: str, receiver: Receiver, change: dict, fragment: str) -> None:
    """https only (loopback http is the emulator's relaxation), clientState <= 128, known change types, event
    resources only (no Bookings subscriptions exist, §2.1), at most 4,230 minutes."""
    response = subscribe(client, business, receiver.url, **change)
    assert response.status_code == 400
    assert fragment in response.json()["error"]["message"]


def test_short_expiry_is_raised_to_45_minutes(client: httpx.Client, business: str, receiver: Receiver) -> None:
    """Expiry under 45 minutes from now is raised to 45 (subscription.py docstring, §2.2)."""
    created = subscribe(client, business, receiver.url, expirationDateTime=_in(5)).json()
    assert 44 < _minutes_left(created) <= 45.1


def test_renew_returns_200_with_the_new_expiry_and_delete_returns_204(client: httpx.Client, business: str, receiver: Receiver) -> None:
    """PATCH renews (200 + expiry), reauthorize 204, DELETE 204, then 404."""
    created = subscribe(client, business, receiver.url, expirationDateTime=_in(60)).json()
    renewed = client.patch(f"/subscriptions/{created['id']}", json={"expirationDateTime": _in(4000)})
    assert renewed.status_code == 200 and 3990 < _minutes_left(renewed.json()) <= 4000
    assert client.post(f"/subscriptions/{created['id']}/reauthorize").status_code == 204
    assert client.delete(f"/subscriptions/{created['id']}").status_code == 204
    assert client.get(f"/subscriptions/{created['id']}").status_code == 404


def test_lifecycle_url_cannot_be_added_by_patch(client: httpx.Client, business: str, receiver: Receiver) -> None:
    """lifecycleNotificationUrl must be set at creation (change-notifications-lifecycle-events)."""
    created = subscribe(client, business, receiver.url).json()
    response = client.patch(f"/subscriptions/{created['id']}", json={"lifecycleNotificationUrl": receiver.url})
    assert response.status_code == 400


def test_quirk_renewal_grants_less_than_asked(client: httpx.Client, control: httpx.Client, business: str, receiver: Receiver) -> None:
    """§6.10 switch: the renewal is shorter than requested; clients must read the expiry back."""
    control.post("/options", json={"quirk_renewal_grants_less": True, "renewal_grant_minutes": 50})
    created = subscribe(client, business, receiver.url).json()
    renewed = client.patch(f"/subscriptions/{created['id']}", json={"expirationDateTime": _in(4000)}).json()
    assert _minutes_left(renewed) < 51


def test_subscriptions_expire_when_the_clock_passes_their_expiry(client: httpx.Client, control: httpx.Client, business: str,
                                                                  receiver: Receiver) -> None:
    """A subscription not renewed in time is deleted (change-notifications-delivery-webhooks)."""
    created = subscribe(client, business, receiver.url, expirationDateTime=_in(60)).json()
    control.post("/clock", json={"advanceMinutes": 61})
    assert client.get(f"/subscriptions/{created['id']}").status_code == 404
    assert client.get("/subscriptions").json()["value"] == []


def test_the_history_records_each_subscriptions_create_renewals_and_end(client: httpx.Client, control: httpx.Client,
                                                                         business: str, receiver: Receiver) -> None:
    """GET /_emulator/subscriptions/history: created, renewed, deleted, removed, and expired dated when it lapsed."""
    deleted = subscribe(client, business, receiver.url, expirationDateTime=_in(60)).json()
    client.patch(f"/subscriptions/{deleted['id']}", json={"expirationDateTime": _in(120)})
    client.delete(f"/subscriptions/{deleted['id']}")
    removed = subscribe(client, business, receiver.url, expirationDateTime=_in(60)).json()
    control.post("/lifecycle", json={"subscriptionId": removed["id"], "lifecycleEvent": "subscriptionRemoved"})
    lapsed = subscribe(client, business, receiver.url, expirationDateTime=_in(60)).json()
    control.post("/clock", json={"advanceMinutes": 90})
    history = control.get("/subscriptions/history").json()
    assert [(e["subscriptionId"], e["event"]) for e in history] == [
        (deleted["id"], "created"), (deleted["id"], "renewed"), (deleted["id"], "deleted"),
        (removed["id"], "created"), (removed["id"], "removed"), (lapsed["id"], "created"), (lapsed["id"], "expired")]
    assert {(e["kind"], e["mailbox"]) for e in history} == {("events", business)}
    assert history[-1]["time"] == lapsed["expirationDateTime"]
    control.post("/reset")
    assert control.get("/subscriptions/history").json() == []


def test_mailbox_quota_answers_403(client: httpx.Client, control: httpx.Client, business: str, receiver: Receiver) -> None:
    """1,000 subscriptions per mailbox (shrunk to 2 here); the next one is 403 naming the limit."""
    control.post("/options", json={"subscriptions_per_mailbox": 2})
    assert [subscribe(client, business, receiver.url).status_code for _ in range(2)] == [201, 201]
    refused = subscribe(client, business, receiver.url)
    assert refused.status_code == 403 and "at most 2 subscriptions" in refused.json()["error"]["message"]


def test_immutable_id_preference_is_recorded(server, client: httpx.Client, business: str, receiver: Receiver) -> None:
    """Prefer: IdType="ImmutableId" on create is remembered for the subscription (§2.2)."""
    plain = subscribe(client, business, receiver.url).json()
    client.headers["Prefer"] = 'IdType="ImmutableId"'
    immutable = subscribe(client, business, receiver.url).json()
    items = server.emulator.subscriptions.items
    assert items[immutable["id"]].immutable_ids and not items[plain["id"]].immutable_ids
