"""The Mail API against the emulator over loopback HTTP: the privacy mailbox's Inbox and drafts."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from connector import GraphConnector, NotFound

MAILBOX = "privacy@contoso.com"
# What the privacy mailbox needs (docs/privacy-mailbox.md): bodies, drafts, sending.
MAIL_PERMISSIONS = ["Mail.ReadWrite", "Mail.Send"]


@pytest.fixture(autouse=True)
def mail_permissions(control) -> None:
    granted = control.options()["granted_permissions"]
    control.options(granted_permissions=[*granted, *MAIL_PERMISSIONS])


def deliver(control, text: str, *, sender: str = "ann@example.org", subject: str = "My data") -> dict:
    return control._json(control._http.post(f"/mailboxes/{MAILBOX}/messages",
                                            json={"text": text, "from": sender, "subject": subject}))


def test_messages_since_lists_the_inbox_oldest_first_with_text_and_sender(graph: GraphConnector, control) -> None:
    first = deliver(control, "Please erase my data.")
    second = deliver(control, "Send me a copy of my data.", sender="bob@example.org")
    found = list(graph.mail.messages_since(MAILBOX, datetime(2000, 1, 1, tzinfo=timezone.utc)))
    assert [m.id for m in found] == [first["immutableId"], second["immutableId"]]
    assert (found[1].sender, found[1].subject, found[1].text) == ("bob@example.org", "My data", "Send me a copy of my data.")
    assert found[0].received_at is not None and not found[0].is_ndr


def test_messages_since_leaves_out_what_came_before(graph: GraphConnector, control) -> None:
    old = deliver(control, "old")
    since = datetime.fromisoformat(old["receivedDateTime"].replace("Z", "+00:00")) + timedelta(seconds=1)
    control._json(control._http.post("/clock", json={"advanceSeconds": 60}))
    new = deliver(control, "new")
    assert [m.id for m in graph.mail.messages_since(MAILBOX, since)] == [new["immutableId"]]


def test_messages_since_needs_an_aware_moment(graph: GraphConnector) -> None:
    with pytest.raises(ValueError):
        list(graph.mail.messages_since(MAILBOX, datetime(2024, 1, 1)))


def test_a_message_is_read_by_id_with_its_headers(graph: GraphConnector, control) -> None:
    sent = deliver(control, "Please correct my phone number.")
    message = graph.mail.message(MAILBOX, sent["immutableId"])
    assert (message.id, message.sender, message.text) == (sent["immutableId"], "ann@example.org", "Please correct my phone number.")
    assert isinstance(message.headers, tuple)


def test_a_draft_is_found_by_its_marker_sent_once_and_then_gone(graph: GraphConnector, control) -> None:
    draft_id = graph.mail.create_draft(MAILBOX, "ann@example.org", "Your request", "We received it.", marker="m-1")
    assert graph.mail.find_draft(MAILBOX, "m-1") == draft_id
    assert graph.mail.find_draft(MAILBOX, "m-2") is None
    graph.mail.send_draft(MAILBOX, draft_id)
    assert graph.mail.find_draft(MAILBOX, "m-1") is None
    with pytest.raises(NotFound):
        graph.mail.send_draft(MAILBOX, draft_id)
    sent = [m for m in control._json(control._http.get("/outbox")) if "ann@example.org" in m["recipients"]]
    assert len(sent) == 1 and sent[0]["subject"] == "Your request"


def test_a_deleted_draft_is_not_found_again(graph: GraphConnector) -> None:
    draft_id = graph.mail.create_draft(MAILBOX, ["ann@example.org"], "s", "t", marker="m-3")
    graph.mail.delete_draft(MAILBOX, draft_id)
    # Gone from Drafts; its immutable id still names the item, now in Deleted Items.
    assert graph.mail.find_draft(MAILBOX, "m-3") is None
