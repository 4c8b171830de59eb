"""Fidelity gaps closed: sendMail, delta token expiry, per-mailbox limits, header log, HTTP-date
Retry-After, and offset-less calendarView times (graph-facts §2.9, §3; user-sendmail, event-delta)."""

from __future__ import annotations

import threading
from email.utils import parsedate_to_datetime

import httpx
import pytest

from emulator import EmulatorServer
from emulator_helpers import new_appointment

MESSAGE = {"subject": "Hi", "body": {"contentType": "Text", "content": "hello"},
           "toRecipients": [{"emailAddress": {"address": "ada@example.com"}}]}


def test_send_mail_is_accepted_and_kept(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """202 with no body; the message is readable through GET /_emulator/mail."""
    response = client.post(f"/users/{business}/sendMail", json={"message": MESSAGE, "saveToSentItems": False})
    assert response.status_code == 202 and response.content == b""
    sent = control.get("/mail").json()
    assert sent[0]["message"]["subject"] == "Hi" and sent[0]["saveToSentItems"] is False and sent[0]["from"] == business


@pytest.mark.parametrize("message", [None, {**MESSAGE, "toRecipients": []}, {**MESSAGE, "toRecipients": [{"emailAddress": {}}]},
                                     {**MESSAGE, "body": {"contentType": "pdf", "content": ""}}])
def test_malformed_mail_is_400(client: httpx.Client, control: httpx.Client, business: str, message: object) -> None:
    """Missing message, no or bad recipients, unknown body type."""
    assert client.post(f"/users/{business}/sendMail", json={"message": message}).status_code == 400
    assert control.get("/mail").json() == []


def test_send_mail_needs_mail_send(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """403 naming Mail.Send when the app lacks it."""
    control.post("/options", json={"granted_permissions": ["Calendars.Read"]})
    response = client.post(f"/users/{business}/sendMail", json={"message": MESSAGE})
    assert response.status_code == 403 and "Mail.Send" in response.json()["error"]["message"]


def _delta_link(client: httpx.Client, business: str) -> str:
    page = client.get(f"/users/{business}/calendarView/delta",
                      params={"startDateTime": "2034-01-01T00:00:00", "endDateTime": "2034-02-01T00:00:00"}).json()
    return page["@odata.deltaLink"]


def test_expired_delta_tokens_are_410(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """The control switch expires every token; a new round works again (offset-less times are UTC)."""
    link = _delta_link(client, business)
    assert client.get(link).status_code == 200
    control.post("/delta/expire")
    gone = client.get(link)
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "SyncStateNotFound"
    assert client.get(_delta_link(client, business)).status_code == 200


def test_delta_tokens_older_than_the_max_age_expire(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """delta_token_max_age_minutes on the emulator's clock."""
    control.post("/options", json={"delta_token_max_age_minutes": 60})
    link = _delta_link(client, business)
    control.post("/clock", json={"advanceMinutes": 30})
    link = client.get(link).json()["@odata.deltaLink"]  # a fresh token each round
    control.post("/clock", json={"advanceMinutes": 61})
    assert client.get(link).status_code == 410


def test_calendar_view_without_offset_is_utc(client: httpx.Client, business: str) -> None:
    """Outlook reads startDateTime/endDateTime without an offset as UTC; Bookings still wants one."""
    new_appointment(client, business, start="2033-03-03T10:00:00")
    view = client.get(f"/users/{business}/calendarView", params={"startDateTime": "2033-03-03T09:00:00", "endDateTime": "2033-03-03T11:00:00"})
    assert view.status_code == 200 and len(view.json()["value"]) == 1
    bookings = client.get(f"/solutions/bookingBusinesses/{business}/calendarView", params={"start": "2033-03-03T09:00:00", "end": "2033-03-03T11:00:00"})
    assert bookings.status_code == 400


def test_fifth_concurrent_request_to_a_mailbox_is_throttled(server: EmulatorServer, control: httpx.Client, business: str) -> None:
    """4 in flight per mailbox; the 5th gets 429 ApplicationThrottled with Retry-After; other mailboxes are unaffected."""
    control.post("/faults", json={"requests": [{"status": 0, "latency_s": 0.6, "route": "/appointments$"}]})
    url = f"{server.graph_url}/solutions/bookingBusinesses/{business}/appointments"
    statuses: list[int] = []
    answers: list[httpx.Response] = []

    def call() -> None:
        answer = httpx.get(url, headers={"Authorization": "Bearer x"}, timeout=10)
        statuses.append(answer.status_code)
        answers.append(answer)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 4 + [429] * 2
    throttled = next(a for a in answers if a.status_code == 429)
    assert throttled.headers["Retry-After"] == "1" and throttled.json()["error"]["code"] == "ApplicationThrottled"
    assert "MailboxConcurrency" in throttled.json()["error"]["message"]
    assert control.get("/requests/mailboxes").json()[business.lower()]["peakInFlight"] == 4


def test_request_window_per_mailbox(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """Over mailbox_requests_per_window in the window → 429; the window moves with the clock."""
    control.post("/options", json={"mailbox_requests_per_window": 3})
    control.delete("/requests")
    statuses = [client.get(f"/users/{business}/events").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    control.post("/clock", json={"advanceMinutes": 11})
    assert client.get(f"/users/{business}/events").status_code == 200


def test_header_log_shows_prefer_only_where_sent(client: httpx.Client, control: httpx.Client, business: str, receiver) -> None:
    """Prefer: IdType="ImmutableId" on the subscription create, not on the next request; Authorization as presence."""
    control.delete("/requests")
    client.post("/subscriptions", headers={"Prefer": 'IdType="ImmutableId"', "client-request-id": "abc"},
                json={"changeType": "created", "notificationUrl": receiver.url, "resource": f"users/{business}/events",
                      "expirationDateTime": "2099-01-01T00:00:00Z"})
    client.get(f"/users/{business}/events")
    create, read = [e for e in control.get("/requests/log").json() if e["path"].startswith("/v1.0")]
    assert create["method"] == "POST" and create["headers"]["Prefer"] == 'IdType="ImmutableId"'
    assert create["headers"]["client-request-id"] == "abc" and create["authorization"] is True
    assert "Prefer" not in read["headers"] and read["path"] == f"/v1.0/users/{business}/events"


def test_retry_after_as_http_date(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """A fault rule can send Retry-After as an HTTP-date (RFC 9110)."""
    control.post("/faults", json={"requests": [{"status": 429, "count": 1, "retry_after": 5, "retry_after_http_date": True}]})
    response = client.get("/solutions/bookingBusinesses")
    assert response.status_code == 429 and parsedate_to_datetime(response.headers["Retry-After"]).tzinfo is not None
