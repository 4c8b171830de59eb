"""Drafts and sending from a mailbox (privacy-facts §1.6–1.8): create with x- headers, find the draft
again by its header, send once (Sent Items, outbox), a second send 404, and bounces (NDR in the
sender's Inbox)."""

from __future__ import annotations

import httpx
import pytest

PRIVACY = "privacy@contoso.example"
MARKER = "x-bookings-ledger-message"


def draft(client: httpx.Client, to: str = "ada@example.com", *, marker: str = "m-1", **extra: object) -> httpx.Response:
    body = {"subject": "Your request", "body": {"contentType": "Text", "content": "We received your request."},
            "toRecipients": [{"emailAddress": {"address": to}}],
            "internetMessageHeaders": [{"name": MARKER, "value": marker}], **extra}
    return client.post(f"/users/{PRIVACY}/messages", json=body)


def test_a_draft_is_created_in_drafts_and_keeps_its_custom_header_for_select(client: httpx.Client) -> None:
    """201 with an id, isDraft, in Drafts; the header comes back only when selected."""
    created = draft(client)
    assert created.status_code == 201, created.text
    message = created.json()
    assert message["isDraft"] is True and message["subject"] == "Your request" and "internetMessageHeaders" not in message
    got = client.get(f"/users/{PRIVACY}/messages/{message['id']}").json()
    assert got["id"] == message["id"] and "internetMessageHeaders" not in got
    drafts = client.get(f"/users/{PRIVACY}/mailFolders('Drafts')/messages", params={"$select": "internetMessageHeaders"}).json()["value"]
    assert [(d["id"], d["internetMessageHeaders"]) for d in drafts] == [(message["id"], [{"name": MARKER, "value": "m-1"}])]
    assert set(drafts[0]) == {"id", "@odata.etag", "internetMessageHeaders"}
    assert client.get(f"/users/{PRIVACY}/mailFolders/Inbox/messages").json()["value"] == []


@pytest.mark.parametrize("name", ["Bookings-Ledger-Message", "To", "xbookings"])
def test_a_draft_header_not_named_x_is_refused_as_graph_does(client: httpx.Client, name: str) -> None:
    """Graph: 400 InvalidInternetMessageHeader "… should start with 'x-' or 'X-'."; nothing is created."""
    response = client.post(f"/users/{PRIVACY}/messages", json={"subject": "s", "internetMessageHeaders": [{"name": name, "value": "v"}]})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "InvalidInternetMessageHeader"
    assert response.json()["error"]["message"] == f"The internet message header name '{name}' should start with 'x-' or 'X-'."
    assert client.get(f"/users/{PRIVACY}/mailFolders/drafts/messages").json()["value"] == []


def test_sending_a_draft_moves_it_to_sent_items_and_the_outbox_and_a_second_send_is_404(
        client: httpx.Client, control: httpx.Client) -> None:
    """202 no body; the draft id is gone (moved: new id), Sent Items has it, the outbox has it once."""
    draft_id = draft(client).json()["id"]
    sent = client.post(f"/users/{PRIVACY}/messages/{draft_id}/send")
    assert sent.status_code == 202 and sent.content == b""
    again = client.post(f"/users/{PRIVACY}/messages/{draft_id}/send")
    assert again.status_code == 404 and again.json()["error"]["code"] == "ErrorItemNotFound"
    assert client.get(f"/users/{PRIVACY}/messages/{draft_id}").status_code == 404
    assert client.get(f"/users/{PRIVACY}/mailFolders/Drafts/messages").json()["value"] == []
    [copy] = client.get(f"/users/{PRIVACY}/mailFolders/sentitems/messages", params={"$select": "subject,isDraft,from,internetMessageHeaders"}).json()["value"]
    assert copy["id"] != draft_id and copy["isDraft"] is False and copy["from"]["emailAddress"]["address"] == PRIVACY
    assert {"name": MARKER, "value": "m-1"} in copy["internetMessageHeaders"]
    [entry] = control.get("/outbox").json()
    assert {k: entry[k] for k in ("kind", "from", "recipients", "subject", "text", "headers", "messageId", "bounced")} == {
        "kind": "send", "from": PRIVACY, "recipients": ["ada@example.com"], "subject": "Your request",
        "text": "We received your request.", "headers": [{"name": MARKER, "value": "m-1"}], "messageId": copy["id"], "bounced": []}


def test_a_deleted_draft_cannot_be_sent(client: httpx.Client, control: httpx.Client) -> None:
    """DELETE 204 moves it to Deleted Items; its id then answers 404 to send; nothing is sent."""
    draft_id = draft(client).json()["id"]
    assert client.delete(f"/users/{PRIVACY}/messages/{draft_id}").status_code == 204
    assert client.post(f"/users/{PRIVACY}/messages/{draft_id}/send").status_code == 404
    assert control.get("/outbox").json() == []
    assert [m["subject"] for m in client.get(f"/users/{PRIVACY}/mailFolders/DeletedItems/messages").json()["value"]] == ["Your request"]


@pytest.mark.parametrize(("granted", "route", "status"), [
    (["Mail.Send", "Mail.Read"], "create", 403), (["Mail.ReadWrite"], "send", 403), (["Mail.ReadWrite", "Mail.Send"], "send", 202)])
def test_drafts_need_mail_readwrite_and_sending_needs_mail_send(
        client: httpx.Client, control: httpx.Client, granted: list[str], route: str, status: int) -> None:
    """user-post-messages: Mail.ReadWrite; message-send: Mail.Send."""
    draft_id = draft(client).json()["id"]
    control.post("/options", json={"granted_permissions": granted}).raise_for_status()
    response = draft(client) if route == "create" else client.post(f"/users/{PRIVACY}/messages/{draft_id}/send")
    assert response.status_code == status, response.text


def test_a_draft_without_recipients_is_refused_on_send(client: httpx.Client) -> None:
    """A draft may lack recipients; sending it is Graph's 400 ErrorInvalidRecipients and it stays a draft."""
    draft_id = client.post(f"/users/{PRIVACY}/messages", json={"subject": "empty"}).json()["id"]
    response = client.post(f"/users/{PRIVACY}/messages/{draft_id}/send")
    assert response.status_code == 400 and response.json()["error"]["code"] == "ErrorInvalidRecipients"
    assert client.get(f"/users/{PRIVACY}/messages/{draft_id}").json()["isDraft"] is True


@pytest.mark.parametrize(("recipient", "listed"), [("nobody@nowhere.invalid", []), ("ada@example.com", ["EXAMPLE.com"]),
                                                   ("ada@example.com", ["Ada@Example.com"])])
def test_a_bounced_send_puts_an_ndr_in_the_senders_inbox(
        client: httpx.Client, control: httpx.Client, recipient: str, listed: list[str]) -> None:
    """Undeliverable recipient → NDR from postmaster@, "Undeliverable: …", X-MS-Exchange-Message-Is-Ndr, multipart/report."""
    control.post("/options", json={"bouncing_addresses": listed}).raise_for_status()
    client.post(f"/users/{PRIVACY}/messages/{draft(client, recipient).json()['id']}/send").raise_for_status()
    [ndr] = client.get(f"/users/{PRIVACY}/mailFolders/Inbox/messages", params={"$select": "subject,from,internetMessageHeaders,body"}).json()["value"]
    assert ndr["subject"] == "Undeliverable: Your request"
    assert ndr["from"]["emailAddress"]["address"] == "postmaster@contoso.example"
    headers = {h["name"].lower(): h["value"] for h in ndr["internetMessageHeaders"]}
    assert "x-ms-exchange-message-is-ndr" in headers and headers["content-type"].startswith("multipart/report")
    assert "auto-submitted" not in headers  # a reader must recognise the NDR itself
    assert recipient in ndr["body"]["content"]
    [entry] = control.get("/outbox").json()
    assert entry["bounced"] == [recipient]


def test_a_delivered_send_makes_no_ndr(client: httpx.Client) -> None:
    """The control case of the bounce test: an ordinary address leaves the Inbox empty."""
    client.post(f"/users/{PRIVACY}/messages/{draft(client).json()['id']}/send").raise_for_status()
    assert client.get(f"/users/{PRIVACY}/mailFolders/Inbox/messages").json()["value"] == []


def test_sendmail_also_files_sent_items_unless_asked_not_to_and_bounces(client: httpx.Client, control: httpx.Client) -> None:
    """sendMail: Sent Items by default, none with saveToSentItems false; an .invalid recipient bounces either way."""
    message = {"subject": "code", "body": {"contentType": "Text", "content": "123456"}, "toRecipients": [{"emailAddress": {"address": "x@y.invalid"}}]}
    client.post(f"/users/{PRIVACY}/sendMail", json={"message": message, "saveToSentItems": False}).raise_for_status()
    assert client.get(f"/users/{PRIVACY}/mailFolders/SentItems/messages").json()["value"] == []
    client.post(f"/users/{PRIVACY}/sendMail", json={"message": message}).raise_for_status()
    assert len(client.get(f"/users/{PRIVACY}/mailFolders/SentItems/messages").json()["value"]) == 1
    assert [m["subject"] for m in client.get(f"/users/{PRIVACY}/mailFolders/Inbox/messages").json()["value"]] == ["Undeliverable: code"] * 2
    assert [e["saveToSentItems"] for e in control.get("/mail", params={"kind": "sendMail"}).json()] == [False, True]
