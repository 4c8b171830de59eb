"""Control API for erasure tests: write requests per object ($batch members included), a search
of every surface for a piece of personal data, and businesses in chosen time zones."""

from __future__ import annotations

import httpx
import pytest

from emulator_helpers import new_appointment

ELEMENT = "#microsoft.graph.bookingCustomerInformation"
WRITER = ["BookingsAppointment.ReadWrite.All", "Bookings.ReadWrite.All", "Calendars.ReadWrite"]
ZONES = ["Europe/London", "America/New_York", "Australia/Sydney", "Asia/Kolkata"]


def test_write_requests_are_listed_per_object(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """Each write is logged under the object it wrote, a create under the id it answered; reads are not."""
    created = new_appointment(client, business)
    url = f"/solutions/bookingBusinesses/{business}/appointments/{created['id']}"
    client.patch(url, json={"serviceNotes": ""})
    client.get(url)
    client.delete(url)
    client.delete(url)
    writes = control.get(f"/requests/objects/{created['id']}").json()
    assert [(w["method"], w["status"]) for w in writes] == [("POST", 201), ("PATCH", 204), ("DELETE", 204), ("DELETE", 404)]
    assert all(w["kind"] == "appointments" and w["mailbox"] == business and w["time"] and not w["batched"] for w in writes)
    assert writes[1]["path"].endswith(created["id"])
    assert list(control.get("/requests/objects", params={"id": created["id"]}).json()) == [created["id"]]
    control.delete("/requests")
    assert control.get(f"/requests/objects/{created['id']}").json() == []


def test_batch_members_are_logged_one_by_one_and_flagged(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """Requests inside a $batch body each get their own entry, with batched: true."""
    customers = client.get(f"/solutions/bookingBusinesses/{business}/customers").json()["value"][:2]
    base = f"/solutions/bookingBusinesses/{business}/customers"
    members = [{"id": str(n), "method": "DELETE", "url": f"{base}/{c['id']}"} for n, c in enumerate(customers)]
    members.append({"id": "9", "method": "PATCH", "url": f"{base}/{customers[0]['id']}", "headers": {"Content-Type": "application/json"},
                    "body": {"@odata.type": "#microsoft.graph.bookingCustomer", "displayName": "x"}, "dependsOn": ["0"]})
    assert client.post("/$batch", json={"requests": members}).status_code == 200
    log = control.get("/requests/objects").json()
    first = log[customers[0]["id"]]
    assert [(w["method"], w["status"], w["batched"], w["kind"]) for w in first] == [("DELETE", 204, True, "customers"),
                                                                                     ("PATCH", 404, True, "customers")]
    assert [w["method"] for w in log[customers[1]["id"]]] == ["DELETE"]
    # The header log flags the members too; the envelope itself is not a member.
    flags = {(e["method"], e["batched"]) for e in control.get("/requests/log").json() if e["path"].startswith("/v1.0/")}
    assert flags == {("GET", False), ("DELETE", True), ("PATCH", True), ("POST", False)}


def test_event_writes_are_logged_under_the_event_id(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """DELETE and permanentDelete of a calendar copy land under its event id."""
    control.post("/options", json={"granted_permissions": WRITER})
    new_appointment(client, business, start="2036-01-01T10:00:00")
    [event] = client.get(f"/users/{business}/calendarView",
                         params={"startDateTime": "2036-01-01T00:00:00Z", "endDateTime": "2036-01-02T00:00:00Z"}).json()["value"]
    client.delete(f"/users/{business}/events/{event['id']}")
    client.post(f"/users/{business}/events/{event['id']}/permanentDelete")
    writes = control.get(f"/requests/objects/{event['id']}").json()
    assert [(w["method"], w["status"], w["kind"]) for w in writes] == [("DELETE", 204, "events"), ("POST", 204, "events")]


def _surfaces(control: httpx.Client, text: str, recoverable: bool = False) -> set[tuple[str, str]]:
    hits = control.get("/search", params={"text": text}).json()["hits"]
    return {(h["surface"], path) for h in hits if h["recoverable"] is recoverable for path in h["paths"]}


def test_search_finds_every_surface_until_erased(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """An email in the customer, the appointment (customers[] and legacy field) and a cancellation mail;
    once erased everywhere Graph reaches, only Recoverable Items still hold it, flagged."""
    answers = [{"questionId": "q", "question": "Email for receipts?", "answerInputType": "text", "answerOptions": [],
                "isRequired": False, "answer": "ada@example.com", "selectedOptions": []}]
    created = new_appointment(client, business, start="2036-02-02T10:00:00",
                              customers=[{"name": "Ada Lovelace", "emailAddress": "ada@example.com", "customQuestionAnswers": answers}])
    found = _surfaces(control, "ADA@EXAMPLE.COM")
    assert {("customers", "emailAddress"), ("appointments", "customerEmailAddress"), ("appointments", "customers[0].emailAddress"),
            ("events", "body.content")} <= found
    customer_id = created["customers"][0]["customerId"]
    url = f"/solutions/bookingBusinesses/{business}/appointments/{created['id']}"
    client.patch(url, json={"customers": [{"@odata.type": ELEMENT, "customerId": customer_id, "name": "Anonymised"}]})
    client.delete(f"/solutions/bookingBusinesses/{business}/customers/{customer_id}")
    assert _surfaces(control, "ada@example.com") == set()
    client.delete(url)  # DELETE mails the customers still on it: none now
    assert control.get("/mail", params={"recipient": "ada@example.com"}).json() == []
    assert _surfaces(control, "Anonymised") == set() and ("appointments", "customers[0].name") in _surfaces(control, "Anonymised", True)


def test_search_reports_mail_and_purged_copies(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """The outbox is a surface; a permanently deleted copy is reported as recoverable, folder purges."""
    control.post("/options", json={"granted_permissions": WRITER})
    answers = [{"questionId": "q", "question": "Allergies?", "answerInputType": "text", "answerOptions": [],
                "isRequired": False, "answer": "Zebra pollen", "selectedOptions": []}]
    created = new_appointment(client, business, start="2036-03-03T10:00:00",
                              customers=[{"name": "Ada", "emailAddress": "ada@example.com", "customQuestionAnswers": answers}])
    client.delete(f"/solutions/bookingBusinesses/{business}/appointments/{created['id']}")
    assert ("mail", "recipients[0]") in _surfaces(control, "ada@example.com")
    [event_id] = [e["id"] for e in control.get("/recoverable").json()[business.lower()] if e["kind"] == "event"]
    assert client.post(f"/users/{business}/events/{event_id}/permanentDelete").status_code == 204
    hits = control.get("/search", params={"text": "zebra POLLEN"}).json()["hits"]
    assert {(h["surface"], h["folder"]) for h in hits if h["recoverable"]} == {("appointments", "deletions"), ("events", "purges")}
    assert not [h for h in hits if not h["recoverable"]]
    assert control.get("/search", params={"text": " "}).status_code == 400


def test_businesses_can_be_created_in_any_time_zone(client: httpx.Client, control: httpx.Client) -> None:
    """POST /_emulator/businesses puts each mailbox in its zone; GET returns the zone as it was set."""
    for number, name in enumerate(ZONES):
        response = control.post("/businesses", json={"email": f"b{number}@contoso.com", "displayName": f"B{number}", "timeZone": name})
        assert response.status_code == 201 and response.json()["mailboxSettings"]["timeZone"] == name
    assert [client.get(f"/users/b{n}@contoso.com/mailboxSettings/timeZone").json()["value"] for n in range(4)] == ZONES
    assert control.post("/businesses", json={"email": "bad@contoso.com", "timeZone": "Mars/Base"}).status_code == 400
    assert client.get("/users/bad@contoso.com/mailboxSettings").status_code == 404


def test_windows_names_are_a_switch(client: httpx.Client, control: httpx.Client) -> None:
    """mailbox_time_zone_windows_names: IANA zones come back as their Windows names."""
    control.post("/options", json={"mailbox_time_zone_windows_names": True})
    for number, name in enumerate(ZONES):
        control.post("/businesses", json={"email": f"b{number}@contoso.com", "timeZone": name})
    settings = [client.get(f"/users/b{n}@contoso.com/mailboxSettings").json() for n in range(4)]
    assert [s["timeZone"] for s in settings] == ["GMT Standard Time", "Eastern Standard Time", "AUS Eastern Standard Time",
                                                 "India Standard Time"]
    assert settings[3]["workingHours"]["timeZone"]["name"] == "India Standard Time"
    assert client.get("/users/b0@contoso.com/mailboxSettings/timeZone").json()["value"] == "GMT Standard Time"


@pytest.mark.parametrize("zones", [ZONES, ["Pacific Standard Time"]])
def test_seed_takes_time_zones(client: httpx.Client, control: httpx.Client, zones: list[str]) -> None:
    """POST /_emulator/seed {timeZones}: the seeded businesses use them in turn."""
    ids = control.post("/seed", json={"businesses": 4, "appointmentsPerBusiness": 2, "timeZones": zones}).json()["businesses"]
    got = [client.get(f"/users/{b}/mailboxSettings/timeZone").json()["value"] for b in ids]
    assert got == [zones[n % len(zones)] for n in range(4)]
    assert control.post("/seed", json={"businesses": 1, "timeZones": ["Nowhere/None"]}).status_code == 400


def test_the_object_log_keeps_at_most_object_log_size_writes(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """object_log_size bounds the log (applied when the log is emptied); the oldest writes go first."""
    control.post("/options", json={"object_log_size": 2})
    control.delete("/requests")
    first, second = (new_appointment(client, business, start=f"2036-04-0{day}T10:00:00") for day in (1, 2))
    client.patch(f"/solutions/bookingBusinesses/{business}/appointments/{second['id']}", json={"serviceNotes": ""})
    log = control.get("/requests/objects").json()
    assert first["id"] not in log and [w["method"] for w in log[second["id"]]] == ["POST", "PATCH"]
