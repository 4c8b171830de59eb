"""What `bookings-ledger doctor` probes on Graph, as the emulator answers it: permission before
object, an Inbox to read, sendMail's validation, and mailboxes outside the app's scope."""

from __future__ import annotations

import httpx
import pytest

PRIVACY = "privacy@contoso.example"
NO_SUCH_EVENT = "AAMkAGRvY3Rvci1wcm9iZS1uby1zdWNoLWV2ZW50"


def grant(control: httpx.Client, *permissions: str) -> None:
    control.post("/options", json={"granted_permissions": list(permissions)}).raise_for_status()


@pytest.mark.parametrize(("granted", "status"), [(["Calendars.Read"], 403), (["Calendars.ReadWrite"], 404)])
def test_an_event_write_is_refused_for_the_permission_before_the_event_is_looked_up(
        client: httpx.Client, control: httpx.Client, business: str, granted: list[str], status: int) -> None:
    """PATCH of an event id that cannot exist: 403 without Calendars.ReadWrite, 404 with it."""
    grant(control, *granted)
    response = client.patch(f"/users/{business}/events/{NO_SUCH_EVENT}", json={})
    assert response.status_code == status, response.text


@pytest.mark.parametrize(("granted", "status"), [(["Mail.Read"], 403), (["Mail.Send"], 400)])
def test_sendmail_without_recipients_is_refused_for_the_permission_first_then_as_invalid(
        client: httpx.Client, control: httpx.Client, granted: list[str], status: int) -> None:
    """Graph answers {"message": {}} with 400 ErrorInvalidRecipients; without Mail.Send it is a 403 first. Nothing is sent."""
    grant(control, *granted)
    response = client.post(f"/users/{PRIVACY}/sendMail", json={"message": {"subject": "probe"}, "saveToSentItems": False})
    assert response.status_code == status, response.text
    if status == 400:
        assert response.json()["error"]["code"] == "ErrorInvalidRecipients"
    assert control.get("/mail").json() == []


def test_the_inbox_lists_newest_first_and_hides_bodies_from_mail_readbasic(client: httpx.Client, control: httpx.Client) -> None:
    """Messages delivered through the control API are listed newest first; Mail.ReadBasic sees no body."""
    for text in ("first", "second"):
        control.post(f"/mailboxes/{PRIVACY}/messages", json={"text": text, "subject": text}).raise_for_status()
    grant(control, "Mail.Read")
    listed = client.get(f"/users/{PRIVACY}/mailFolders/Inbox/messages", params={"$top": "1"}).json()["value"]
    assert [m["body"]["content"] for m in listed] == ["second"]
    grant(control, "Mail.ReadBasic.All")
    basic = client.get(f"/users/{PRIVACY}/mailFolders/inbox/messages").json()["value"]
    assert [m["subject"] for m in basic] == ["second", "first"] and all("body" not in m for m in basic)
    grant(control, "Mail.Send")
    assert client.get(f"/users/{PRIVACY}/mailFolders/inbox/messages").status_code == 403


def test_a_mailbox_outside_the_app_scope_answers_access_to_odata_is_disabled(
        client: httpx.Client, control: httpx.Client, business: str) -> None:
    """Mailbox content of an out-of-scope mailbox is a 403 "Access to OData is disabled."; its directory object is not."""
    control.post("/options", json={"mailboxes_outside_app_scope": [business.upper()]}).raise_for_status()
    for path in (f"/users/{business}/events", f"/users/{business}/mailboxSettings/timeZone"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert response.json()["error"] == {**response.json()["error"], "code": "ErrorAccessDenied",
                                            "message": "Access to OData is disabled."}
    assert client.get(f"/users/{business}").status_code == 200
    control.post("/options", json={"mailboxes_outside_app_scope": []}).raise_for_status()
    assert client.get(f"/users/{business}/events").status_code == 200
