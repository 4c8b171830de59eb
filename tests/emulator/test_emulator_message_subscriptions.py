"""Subscriptions on a mailbox's Inbox (privacy-facts §1.1–1.3): created notifications for arrivals,
NDRs included, none for drafts or sends; the message lifetime and its UNCONFIRMED switch; lifecycle."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from emulator_helpers import Receiver

PRIVACY = "privacy@contoso.example"
INBOX = f"users/{PRIVACY}/mailFolders('Inbox')/messages"


def subscribe(client: httpx.Client, receiver: Receiver, resource: str = INBOX, *, minutes: float = 4000,
              change_type: str = "created", lifecycle: bool = True) -> httpx.Response:
    body = {"changeType": change_type, "notificationUrl": receiver.url, "resource": resource, "clientState": "s3cret",
            "expirationDateTime": (datetime.now(timezone.utc) + timedelta(minutes=minutes)).isoformat()}
    if lifecycle:
        body["lifecycleNotificationUrl"] = receiver.url
    return client.post("/subscriptions", json=body)


def deliver(control: httpx.Client, text: str = "Please erase my data", sender: str = "ada@example.com") -> dict:
    response = control.post(f"/mailboxes/{PRIVACY}/messages", json={"text": text, "from": sender, "subject": "Erasure"})
    assert response.status_code == 201, response.text
    return response.json()


def test_an_arrival_is_notified_with_graphs_message_resource(client: httpx.Client, control: httpx.Client, receiver: Receiver) -> None:
    """created, resource Users/{userId}/Messages/{id}, resourceData.id the message id, readable with it."""
    created = subscribe(client, receiver)
    assert created.status_code == 201, created.text
    assert created.json()["resource"] == INBOX
    message = deliver(control)
    assert receiver.wait_for(lambda r: r.notifications())
    [note] = receiver.notifications()
    user_id = note["resource"].split("/")[1]
    assert note["resource"] == f"Users/{user_id}/Messages/{message['id']}"
    assert note["changeType"] == "created" and note["clientState"] == "s3cret"
    assert note["resourceData"]["id"] == message["id"] and note["resourceData"]["@odata.type"] == "#Microsoft.Graph.Message"
    read = client.get(f"/users/{user_id}/messages/{note['resourceData']['id']}")  # the user id names the same mailbox
    assert read.status_code == 200 and read.json()["body"]["content"] == "Please erase my data"


@pytest.mark.parametrize("resource", [f"users/{PRIVACY}/messages", f"users/{PRIVACY}/mailFolders/inbox/messages",
                                      f"Users('{PRIVACY}')/mailFolders('inbox')/messages",
                                      f"users/{PRIVACY}/mailFolders('Inbox')/messages?$filter=isRead eq false"])
def test_every_documented_message_resource_form_is_accepted(client: httpx.Client, control: httpx.Client, receiver: Receiver,
                                                            resource: str) -> None:
    assert subscribe(client, receiver, resource).status_code == 201
    deliver(control)
    assert receiver.wait_for(lambda r: r.notifications())


def test_drafts_and_sends_do_not_notify_an_inbox_subscription_but_a_bounce_does(
        client: httpx.Client, control: httpx.Client, receiver: Receiver) -> None:
    """Our own outgoing mail is not an arrival; the NDR it causes is (and must be ignored by the reader)."""
    subscribe(client, receiver).raise_for_status()
    ok = client.post(f"/users/{PRIVACY}/messages", json={"subject": "ack", "toRecipients": [{"emailAddress": {"address": "ada@example.com"}}]})
    client.post(f"/users/{PRIVACY}/messages/{ok.json()['id']}/send").raise_for_status()
    bad = client.post(f"/users/{PRIVACY}/messages", json={"subject": "ack", "toRecipients": [{"emailAddress": {"address": "a@b.invalid"}}]})
    client.post(f"/users/{PRIVACY}/messages/{bad.json()['id']}/send").raise_for_status()
    assert receiver.wait_for(lambda r: r.notifications())
    [ndr] = client.get(f"/users/{PRIVACY}/mailFolders/Inbox/messages").json()["value"]
    assert [n["resourceData"]["id"] for n in receiver.notifications()] == [ndr["id"]]


def test_unread_filter_turns_reading_into_deleted(client: httpx.Client, control: httpx.Client, receiver: Receiver) -> None:
    """With isRead eq false, arrival → created, reading → deleted (privacy-facts §1.2)."""
    subscribe(client, receiver, INBOX + "?$filter=isRead eq false", change_type="created,updated,deleted").raise_for_status()
    message = deliver(control)
    client.patch(f"/users/{PRIVACY}/messages/{message['id']}", json={"isRead": True}).raise_for_status()
    assert receiver.wait_for(lambda r: len(r.notifications()) == 2)
    assert [n["changeType"] for n in receiver.notifications()] == ["created", "deleted"]


def test_mail_subscriptions_need_a_mail_permission_not_calendars(client: httpx.Client, control: httpx.Client, receiver: Receiver) -> None:
    control.post("/options", json={"granted_permissions": ["Calendars.Read"]}).raise_for_status()
    refused = subscribe(client, receiver)
    assert refused.status_code == 403 and "Mail.ReadBasic" in refused.json()["error"]["message"]
    control.post("/options", json={"granted_permissions": ["Mail.ReadBasic"]}).raise_for_status()
    assert subscribe(client, receiver).status_code == 201


def test_message_lifetime_is_4230_minutes_unless_the_unconfirmed_switch_allows_10080(
        client: httpx.Client, control: httpx.Client, receiver: Receiver) -> None:
    refused = subscribe(client, receiver, minutes=4300)
    assert refused.status_code == 400 and "4230 minutes" in refused.json()["error"]["message"]
    control.post("/options", json={"message_subscription_max_minutes": 10080}).raise_for_status()
    assert subscribe(client, receiver, minutes=10000).status_code == 201
    assert subscribe(client, receiver, minutes=10100).status_code == 400


def test_lifecycle_events_reach_a_message_subscription(client: httpx.Client, control: httpx.Client, receiver: Receiver) -> None:
    """reauthorizationRequired near expiry, missed on a dropped notification, subscriptionRemoved deletes it."""
    subscription = subscribe(client, receiver, minutes=100).json()
    control.post("/clock", json={"advanceMinutes": 45}).raise_for_status()
    assert receiver.wait_for(lambda r: any(n["lifecycleEvent"] == "reauthorizationRequired" for n in r.notifications(kind="lifecycleEvent")))
    control.post("/faults", json={"notifications": {"drop": 1.0}}).raise_for_status()
    deliver(control)
    assert receiver.wait_for(lambda r: any(n["lifecycleEvent"] == "missed" for n in r.notifications(kind="lifecycleEvent")))
    control.post("/lifecycle", json={"subscriptionId": subscription["id"], "lifecycleEvent": "subscriptionRemoved"}).raise_for_status()
    assert client.get(f"/subscriptions/{subscription['id']}").status_code == 404


def test_unknown_folders_and_filters_are_refused(client: httpx.Client, receiver: Receiver) -> None:
    for resource in (f"users/{PRIVACY}/mailFolders('Archive')/messages", INBOX + "?$filter=subject eq 'x'", f"users/{PRIVACY}/contacts"):
        assert subscribe(client, receiver, resource).status_code == 400, resource
