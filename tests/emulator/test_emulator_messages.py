"""Reading a mailbox's messages (privacy-facts §1.4–1.5, learn message-get/message-list): fields, folders,
$select and headers, Prefer text bodies, Mail.Read vs Mail.ReadBasic, $filter, $orderby, paging."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

PRIVACY = "privacy@contoso.example"
FIELDS = {"id", "receivedDateTime", "internetMessageId", "subject", "bodyPreview", "body", "from", "sender", "replyTo",
          "toRecipients", "conversationId", "isRead", "hasAttachments"}


def deliver(control: httpx.Client, subject: str, **extra: object) -> dict:
    response = control.post(f"/mailboxes/{PRIVACY}/messages", json={"subject": subject, "from": "ada@example.com", **extra})
    assert response.status_code == 201, response.text
    return response.json()


def grant(control: httpx.Client, *permissions: str) -> None:
    control.post("/options", json={"granted_permissions": list(permissions)}).raise_for_status()


def test_a_message_has_the_documented_fields_and_headers_only_when_selected(client: httpx.Client, control: httpx.Client) -> None:
    message = deliver(control, "Access request", text="Send me my data", headers={"Auto-Submitted": "no"})
    got = client.get(f"/users/{PRIVACY}/messages/{message['id']}").json()
    assert FIELDS <= set(got) and "internetMessageHeaders" not in got and "uniqueBody" not in got
    assert got["from"] == {"emailAddress": {"name": "ada@example.com", "address": "ada@example.com"}}
    assert got["body"] == {"contentType": "text", "content": "Send me my data"} and got["isRead"] is False
    assert got["receivedDateTime"].endswith("Z") and got["internetMessageId"].startswith("<")
    selected = client.get(f"/users/{PRIVACY}/mailFolders('Inbox')/messages/{message['id']}",
                          params={"$select": "internetMessageHeaders,subject"}).json()
    assert set(selected) == {"@odata.context", "@odata.etag", "id", "subject", "internetMessageHeaders"}
    names = [h["name"] for h in selected["internetMessageHeaders"]]
    assert {"From", "To", "Subject", "Message-ID", "Auto-Submitted"} <= set(names)


def test_a_message_is_found_only_in_its_own_folder(client: httpx.Client, control: httpx.Client) -> None:
    message = deliver(control, "x", text="t")
    assert client.get(f"/users/{PRIVACY}/mailFolders/inbox/messages/{message['id']}").status_code == 200
    wrong = client.get(f"/users/{PRIVACY}/mailFolders/drafts/messages/{message['id']}")
    assert wrong.status_code == 404 and wrong.json()["error"]["code"] == "ErrorItemNotFound"
    assert client.get(f"/users/{PRIVACY}/mailFolders/Archive/messages").status_code == 404
    folder_id = message["parentFolderId"]
    assert [m["id"] for m in client.get(f"/users/{PRIVACY}/mailFolders/{folder_id}/messages").json()["value"]] == [message["id"]]


def test_prefer_text_turns_an_html_body_into_text(client: httpx.Client, control: httpx.Client) -> None:
    message = deliver(control, "html", html="<html><body><p>Erase&nbsp;me</p><p>please</p></body></html>")
    plain = client.get(f"/users/{PRIVACY}/messages/{message['id']}")
    assert plain.json()["body"]["contentType"] == "html" and "Preference-Applied" not in plain.headers
    text = client.get(f"/users/{PRIVACY}/messages/{message['id']}", headers={"Prefer": 'outlook.body-content-type="text"'})
    assert text.json()["body"] == {"contentType": "text", "content": "Erase\xa0me\nplease"}
    assert text.headers["Preference-Applied"] == 'outlook.body-content-type="text"'


@pytest.mark.parametrize(("granted", "bodies"), [(["Mail.Read"], True), (["Mail.ReadWrite"], True),
                                                 (["Mail.ReadBasic"], False), (["Mail.ReadBasic.All"], False)])
def test_bodies_need_mail_read_even_when_selected(client: httpx.Client, control: httpx.Client, granted: list[str], bodies: bool) -> None:
    message = deliver(control, "s", text="secret text")
    grant(control, *granted)
    for params in ({}, {"$select": "body,bodyPreview,uniqueBody,subject"}):
        got = client.get(f"/users/{PRIVACY}/messages/{message['id']}", params=params).json()
        assert got["subject"] == "s" and ({"body", "bodyPreview"} <= set(got)) is bodies
        assert ("secret" in str(got)) is bodies


def test_reading_needs_a_mail_permission(client: httpx.Client, control: httpx.Client) -> None:
    message = deliver(control, "s", text="t")
    grant(control, "Mail.Send", "Calendars.Read")
    assert client.get(f"/users/{PRIVACY}/messages/{message['id']}").status_code == 403
    assert client.get(f"/users/{PRIVACY}/messages").status_code == 403


def test_filter_on_received_time_with_orderby_and_paging(client: httpx.Client, control: httpx.Client) -> None:
    """receivedDateTime ge X keeps the later ones; pages of $top follow @odata.nextLink with $skip."""
    first = deliver(control, "m0", text="t")
    control.post("/clock", json={"advanceMinutes": 10}).raise_for_status()
    later = [deliver(control, f"m{n}", text="t") for n in range(1, 6)]
    since = later[0]["receivedDateTime"]
    params = {"$filter": f"receivedDateTime ge {since}", "$orderby": "receivedDateTime asc", "$top": "2", "$select": "subject"}
    subjects, url, pages = [], f"/users/{PRIVACY}/mailFolders/Inbox/messages", 0
    page = client.get(url, params=params).json()
    while True:
        pages += 1
        subjects += [m["subject"] for m in page["value"]]
        if "@odata.nextLink" not in page:
            break
        link = page["@odata.nextLink"]
        assert link.startswith("http") and "$skip" in parse_qs(urlsplit(link).query)
        page = client.get(link).json()
    assert subjects == ["m1", "m2", "m3", "m4", "m5"] and pages == 3
    everything = client.get(url, params={"$top": "50"}).json()
    assert [m["subject"] for m in everything["value"]] == ["m5", "m4", "m3", "m2", "m1", "m0"]  # newest first
    assert "@odata.nextLink" not in everything and first["id"] == everything["value"][-1]["id"]


def test_the_default_page_is_ten_messages(client: httpx.Client, control: httpx.Client) -> None:
    for n in range(12):
        deliver(control, f"m{n}", text="t")
    page = client.get(f"/users/{PRIVACY}/messages").json()
    assert len(page["value"]) == 10 and "@odata.nextLink" in page
    assert len(client.get(page["@odata.nextLink"]).json()["value"]) == 2


@pytest.mark.parametrize(("params", "code"), [
    ({"$filter": "subject eq 'x'"}, "BadRequest"),
    ({"$filter": "receivedDateTime ge yesterday"}, "BadRequest"),
    ({"$orderby": "from desc"}, "BadRequest"),
    ({"$top": "0"}, "BadRequest"),
    ({"$filter": "isRead eq false", "$orderby": "receivedDateTime desc"}, "InefficientFilter")])
def test_queries_graph_would_refuse_are_400(client: httpx.Client, params: dict, code: str) -> None:
    response = client.get(f"/users/{PRIVACY}/messages", params=params)
    assert response.status_code == 400 and response.json()["error"]["code"] == code


def test_orderby_on_a_filtered_property_first_is_accepted(client: httpx.Client, control: httpx.Client) -> None:
    deliver(control, "a", text="t")
    params = {"$filter": "receivedDateTime ge 2000-01-01T00:00:00Z and isRead eq false", "$orderby": "receivedDateTime desc"}
    assert [m["subject"] for m in client.get(f"/users/{PRIVACY}/messages", params=params).json()["value"]] == ["a"]


def test_mail_routes_take_faults_and_mailbox_limits_like_the_others(client: httpx.Client, control: httpx.Client) -> None:
    control.post("/faults", json={"requests": [{"status": 429, "count": 1, "route": "/messages", "retry_after": 2}]}).raise_for_status()
    throttled = client.get(f"/users/{PRIVACY}/messages")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "2"
    assert client.get(f"/users/{PRIVACY}/messages").status_code == 200
    assert PRIVACY in control.get("/requests/mailboxes").json()


def test_prefer_takes_the_body_type_and_immutable_ids_together(client: httpx.Client, control: httpx.Client) -> None:
    """One Prefer header with both preferences, as a reader of the privacy mailbox sends it."""
    message = deliver(control, "both", html="<p>Erase me</p>")
    got = client.get(f"/users/{PRIVACY}/mailFolders/Inbox/messages", params={"$select": "body"},
                     headers={"Prefer": 'outlook.body-content-type="text", IdType="ImmutableId"'}).json()["value"]
    assert [m["body"] for m in got] == [{"contentType": "text", "content": "Erase me"}]
    assert got[0]["id"] != message["id"]
    assert client.get(f"/users/{PRIVACY}/messages/{got[0]['id']}").json()["id"] == message["id"]
