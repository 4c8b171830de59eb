"""The appointment's calendar copy (privacy-facts §2.4–2.6): answers in its body, PATCH, DELETE,
permanentDelete, delta, permissions, and what Recoverable Items keep."""

from __future__ import annotations

import httpx
import pytest

from emulator_helpers import new_appointment

ELEMENT = "#microsoft.graph.bookingCustomerInformation"
WRITER = ["BookingsAppointment.ReadWrite.All", "Bookings.ReadWrite.All", "Calendars.ReadWrite"]
ANSWERS = [{"questionId": "q1", "question": "What is your age?", "answerInputType": "text", "answerOptions": [],
            "isRequired": True, "answer": "47", "selectedOptions": []},
           {"questionId": "q2", "question": "How did you hear about us?", "answerInputType": "radioButton",
            "answerOptions": ["Friend", "Flyer"], "isRequired": False, "answer": None, "selectedOptions": ["Flyer"]}]
DAY = ("2035-02-05T00:00:00Z", "2035-02-06T00:00:00Z")


@pytest.fixture
def writer(control: httpx.Client) -> None:
    """The app holds Calendars.ReadWrite, which event writes need."""
    control.post("/options", json={"granted_permissions": WRITER})


def _appointment(client: httpx.Client, business: str, **extra: object) -> dict:
    staff = client.get(f"/solutions/bookingBusinesses/{business}/staffMembers").json()["value"][0]
    customers = [{"name": "Ada Lovelace", "emailAddress": "ada@example.com", "customQuestionAnswers": ANSWERS}]
    return new_appointment(client, business, start="2035-02-05T10:00:00", customers=customers, staffMemberIds=[staff["id"]],
                           serviceName="Checkup", **extra)


def _event(client: httpx.Client, business: str) -> dict:
    [event] = client.get(f"/users/{business}/calendarView", params={"startDateTime": DAY[0], "endDateTime": DAY[1]}).json()["value"]
    return event


def test_event_body_carries_the_custom_answers_by_default(client: httpx.Client, business: str) -> None:
    """2020 reports: "Custom Fields … Question … Answer" in the body; name and email stay out."""
    _appointment(client, business)
    event = _event(client, business)
    content = event["body"]["content"]
    assert event["body"]["contentType"] == "html"
    for text in ("Custom Fields", "Question: What is your age?", "Answer: 47", "Answer: Flyer"):
        assert text in content
    assert event["bodyPreview"].startswith("Custom Fields Question: What is your age? Answer: 47")
    assert "ada@example.com" not in str(event) and "Lovelace" not in str(event) and event["subject"] == "Checkup"


def test_event_body_can_be_stripped(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """2018 report (bookings-samples#7): no customer data at all in the copy."""
    control.post("/options", json={"event_body_has_custom_answers": False})
    _appointment(client, business)
    event = _event(client, business)
    assert event["body"] == {"contentType": "html", "content": ""} and event["bodyPreview"] == "" and "Answer" not in str(event)


def test_the_copy_follows_a_customers_rewrite(client: httpx.Client, business: str) -> None:
    """Inference: Bookings re-projects its copy, so answers dropped from customers[] leave the body."""
    created = _appointment(client, business)
    before = _event(client, business)
    element = {"@odata.type": ELEMENT, "customerId": created["customers"][0]["customerId"]}
    client.patch(f"/solutions/bookingBusinesses/{business}/appointments/{created['id']}", json={"customers": [element]})
    after = _event(client, business)
    assert after["body"]["content"] == "" and after["changeKey"] != before["changeKey"]


def test_event_writes_need_calendars_read_write(client: httpx.Client, business: str) -> None:
    """event-delete needs application Calendars.ReadWrite; the default grant (Calendars.Read) reads only."""
    _appointment(client, business)
    event = _event(client, business)
    url = f"/users/{business}/events/{event['id']}"
    for response in (client.patch(url, json={"subject": "x"}), client.delete(url), client.post(url + "/permanentDelete")):
        assert response.status_code == 403 and "Calendars.ReadWrite" in response.json()["error"]["message"]
    assert client.get(url).status_code == 200


@pytest.mark.usefixtures("writer")
def test_event_patch_answers_200_and_lasts_until_the_appointment_changes(client: httpx.Client, business: str) -> None:
    """PATCH 200 with the event; the patched body stays until Bookings changes the appointment again."""
    created = _appointment(client, business)
    event = _event(client, business)
    url = f"/users/{business}/events/{event['id']}"
    response = client.patch(url, json={"body": {"contentType": "text", "content": "Erased"}})
    assert response.status_code == 200
    assert response.json()["body"] == {"contentType": "text", "content": "Erased"} and response.json()["bodyPreview"] == "Erased"
    assert client.get(url).json()["body"]["content"] == "Erased" and client.get(url).json()["changeKey"] != event["changeKey"]
    client.patch(f"/solutions/bookingBusinesses/{business}/appointments/{created['id']}", json={"serviceNotes": "moved"})
    assert "Answer: 47" in client.get(url).json()["body"]["content"]


@pytest.mark.usefixtures("writer")
@pytest.mark.parametrize("body", [{"start": {"dateTime": "2035-02-05T11:00:00", "timeZone": "UTC"}},
                                  {"body": {"contentType": "pdf", "content": ""}}, {"attendees": "everyone"}])
def test_event_patch_refuses_what_it_cannot_write(client: httpx.Client, business: str, body: dict) -> None:
    """Fields that would move the copy away from its appointment, and malformed bodies, are 400."""
    _appointment(client, business)
    assert client.patch(f"/users/{business}/events/{_event(client, business)['id']}", json=body).status_code == 400


@pytest.mark.usefixtures("writer")
def test_event_delete_leaves_the_appointment_and_shows_in_delta(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """DELETE 204; the event is gone from reads and reported @removed by delta; Bookings keeps the appointment
    (UNCONFIRMED default); the copy waits in Recoverable Items > Deletions; attendees get a cancellation."""
    created = _appointment(client, business)
    event = _event(client, business)
    delta = client.get(f"/users/{business}/calendarView/delta", params={"startDateTime": DAY[0], "endDateTime": DAY[1]}).json()
    assert client.delete(f"/users/{business}/events/{event['id']}").status_code == 204
    assert client.get(f"/users/{business}/events/{event['id']}").status_code == 404
    assert client.get(f"/users/{business}/calendarView", params={"startDateTime": DAY[0], "endDateTime": DAY[1]}).json()["value"] == []
    assert event["id"] not in str(client.get(f"/users/{business}/events").json()["value"])
    changes = client.get(delta["@odata.deltaLink"]).json()["value"]
    assert changes == [{"@odata.type": "#microsoft.graph.event", "id": event["id"], "@removed": {"reason": "deleted"}}]
    assert client.get(f"/solutions/bookingBusinesses/{business}/appointments/{created['id']}").status_code == 200
    [kept] = control.get("/recoverable", params={"mailbox": business}).json()[business.lower()]
    assert kept["kind"] == "event" and kept["folder"] == "deletions" and "Answer: 47" in kept["item"]["body"]["content"]
    [mail] = control.get("/mail", params={"kind": "cancellation"}).json()
    assert mail["source"] == "event" and mail["recipients"] == [event["attendees"][0]["emailAddress"]["address"]]
    assert client.delete(f"/users/{business}/events/{event['id']}").status_code == 404


@pytest.mark.usefixtures("writer")
def test_permanent_delete_moves_the_copy_to_purges(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """permanentDelete 204: a deleted copy moves from Deletions to Purges; a third call finds nothing (404)."""
    _appointment(client, business)
    url = f"/users/{business}/events/{_event(client, business)['id']}"
    assert client.delete(url).status_code == 204
    assert client.post(url + "/permanentDelete").status_code == 204
    [kept] = control.get("/recoverable").json()[business.lower()]
    assert kept["folder"] == "purges"
    assert client.post(url + "/permanentDelete").status_code == 404


@pytest.mark.usefixtures("writer")
def test_permanent_delete_of_a_live_copy(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """permanentDelete straight from the calendar puts the copy in Purges."""
    _appointment(client, business)
    assert client.post(f"/users/{business}/events/{_event(client, business)['id']}/permanentDelete").status_code == 204
    assert [e["folder"] for e in control.get("/recoverable").json()[business.lower()]] == ["purges"]


@pytest.mark.usefixtures("writer")
def test_event_delete_can_remove_the_appointment(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """event_delete_removes_appointment: the other answer to the UNCONFIRMED question."""
    control.post("/options", json={"event_delete_removes_appointment": True})
    created = _appointment(client, business)
    client.delete(f"/users/{business}/events/{_event(client, business)['id']}")
    assert client.get(f"/solutions/bookingBusinesses/{business}/appointments/{created['id']}").status_code == 404
    kinds = sorted(e["kind"] for e in control.get("/recoverable").json()[business.lower()])
    assert kinds == ["appointment", "event"]


def test_deleted_appointments_stay_in_recoverable_items_for_14_days(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """A deleted appointment and its copy are kept 14 days (default retention), then gone."""
    created = _appointment(client, business)
    client.delete(f"/solutions/bookingBusinesses/{business}/appointments/{created['id']}")
    kept = control.get("/recoverable").json()[business.lower()]
    assert sorted(e["kind"] for e in kept) == ["appointment", "event"] and kept[0]["id"] == created["id"]
    control.post("/clock", json={"advanceMinutes": 13 * 24 * 60})
    assert len(control.get("/recoverable").json()[business.lower()]) == 2
    control.post("/clock", json={"advanceMinutes": 2 * 24 * 60})
    assert control.get("/recoverable").json()[business.lower()] == []


def test_a_hold_keeps_recoverable_items(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """Under a litigation hold the retention limit is ignored."""
    control.post("/options", json={"litigation_hold": True})
    created = _appointment(client, business)
    client.post(f"/solutions/bookingBusinesses/{business}/appointments/{created['id']}/cancel", json={})
    control.post("/clock", json={"advanceMinutes": 60 * 24 * 60})
    assert len(control.get("/recoverable").json()[business.lower()]) == 2


@pytest.mark.usefixtures("writer")
def test_event_writes_count_against_the_mailbox_and_are_logged(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """Writes take a mailbox slot like other requests and appear in the request log."""
    _appointment(client, business)
    event = _event(client, business)
    control.delete("/requests")
    client.patch(f"/users/{business}/events/{event['id']}", json={"subject": "Visit"})
    client.delete(f"/users/{business}/events/{event['id']}")
    assert control.get("/requests/mailboxes").json()[business.lower()]["inWindow"] == 2
    graph = [(e["method"], e["status"]) for e in control.get("/requests/log").json() if e["path"].startswith("/v1.0")]
    assert graph == [("PATCH", 200), ("DELETE", 204)]
    control.post("/options", json={"mailbox_requests_per_window": 2})
    assert client.post(f"/users/{business}/events/{event['id']}/permanentDelete").status_code == 429
