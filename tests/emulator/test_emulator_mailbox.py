"""The business mailbox calendar: appointments mirrored as events with customer data stripped (§2.1, §2.9)."""

from __future__ import annotations

import httpx
import pytest

from emulator_helpers import new_appointment


def _staff(client: httpx.Client, business: str) -> dict:
    return client.get(f"/solutions/bookingBusinesses/{business}/staffMembers").json()["value"][0]


def _find_event(client: httpx.Client, business: str, start: str, end: str) -> dict:
    view = client.get(f"/users/{business}/calendarView", params={"startDateTime": start, "endDateTime": end}).json()
    assert len(view["value"]) == 1, view
    return view["value"][0]


def test_each_appointment_is_an_event_without_customer_data(client: httpx.Client, business: str) -> None:
    """Subject/body carry no customer data; attendees are staff only; the id differs from the appointment's."""
    staff = _staff(client, business)
    appointment = new_appointment(client, business, start="2033-03-03T10:00:00", staffMemberIds=[staff["id"]], serviceName="Checkup")
    event = _find_event(client, business, "2033-03-03T00:00:00Z", "2033-03-04T00:00:00Z")
    assert event["id"] != appointment["id"]
    assert event["start"] == {"dateTime": "2033-03-03T10:00:00.0000000", "timeZone": "UTC"}
    text = str(event)
    assert "Ada" not in text and "ada@example.com" not in text and "first visit" not in text
    assert [a["emailAddress"]["address"] for a in event["attendees"]] == [staff["emailAddress"]]
    assert event["organizer"]["emailAddress"]["address"] == business
    assert client.get(f"/users/{business}/events/{event['id']}").json()["id"] == event["id"]


def test_events_follow_reschedules_and_cancellations(client: httpx.Client, business: str) -> None:
    """Reschedule moves the event; cancel removes it."""
    appointment = new_appointment(client, business, start="2033-04-04T10:00:00")
    event = _find_event(client, business, "2033-04-04T00:00:00Z", "2033-04-05T00:00:00Z")
    url = f"/solutions/bookingBusinesses/{business}/appointments/{appointment['id']}"
    client.patch(url, json={"startDateTime": {"dateTime": "2033-04-04T12:00:00Z", "timeZone": "UTC"},
                            "endDateTime": {"dateTime": "2033-04-04T12:30:00Z", "timeZone": "UTC"}})
    moved = client.get(f"/users/{business}/events/{event['id']}").json()
    assert moved["start"]["dateTime"].startswith("2033-04-04T12:00") and moved["changeKey"] != event["changeKey"]
    client.post(url + "/cancel", json={"cancellationMessage": "bye"})
    assert client.get(f"/users/{business}/events/{event['id']}").status_code == 404


def test_event_ids_can_equal_appointment_ids(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """Option for the other answer to the UNCONFIRMED id question."""
    control.post("/options", json={"event_id_equals_appointment_id": True})
    appointment = new_appointment(client, business, start="2033-05-05T10:00:00")
    assert client.get(f"/users/{business}/events/{appointment['id']}").status_code == 200


def test_unknown_mailbox_is_404(client: httpx.Client, business: str) -> None:
    """A user that is not a booking mailbox."""
    response = client.get("/users/nobody@contoso.com/events")
    assert response.status_code == 404 and response.json()["error"]["code"] == "ErrorInvalidUser"


def test_delta_gives_the_window_then_only_changes(client: httpx.Client, business: str) -> None:
    """calendarView/delta: pages with nextLink, then a deltaLink; the next round has changes and @removed."""
    window = {"startDateTime": "2034-01-01T00:00:00Z", "endDateTime": "2034-02-01T00:00:00Z"}
    made = [new_appointment(client, business, start=f"2034-01-0{d}T10:00:00") for d in range(1, 4)]
    items, url = [], f"/users/{business}/calendarView/delta"
    params: dict | None = window
    for _ in range(10):
        page = client.get(url, params=params, headers={"Prefer": "odata.maxpagesize=2"}).json()
        items += page["value"]
        params, url = None, page.get("@odata.nextLink") or page.get("@odata.deltaLink")
        if "@odata.deltaLink" in page:
            break
    assert len(items) == 3 and "$deltatoken=" in url
    base = f"/solutions/bookingBusinesses/{business}/appointments"
    client.patch(f"{base}/{made[0]['id']}", json={"serviceNotes": "x"})
    client.post(f"{base}/{made[1]['id']}/cancel", json={})
    changes = client.get(url).json()
    assert "@odata.deltaLink" in changes
    removed = [i for i in changes["value"] if "@removed" in i]
    kept = [i for i in changes["value"] if "@removed" not in i]
    assert len(removed) == 1 and len(kept) == 1
    assert client.get(changes["@odata.deltaLink"]).json()["value"] == []


def test_business_has_no_time_zone_its_mailbox_settings_do(client: httpx.Client, business: str) -> None:
    """bookingBusiness has no timeZone (§1.1); the scheduling mailbox's mailboxSettings hold it, by Windows name."""
    assert "timeZone" not in client.get(f"/solutions/bookingBusinesses/{business}").json()
    settings = client.get(f"/users/{business}/mailboxSettings").json()
    assert settings["@odata.context"].endswith(f"$metadata#users('{business.replace('@', '%40')}')/mailboxSettings")
    assert settings["timeZone"] == "Central Standard Time"
    assert settings["workingHours"]["timeZone"] == {"name": "Central Standard Time"}
    single = client.get(f"/users/{business}/mailboxSettings/timeZone").json()
    assert single["value"] == "Central Standard Time" and single["@odata.context"].endswith("/mailboxSettings/timeZone")
    assert client.get(f"/users/{business}/mailboxSettings/language").json()["locale"] == "en-US"


def test_time_zone_is_set_per_mailbox_and_returned_as_set(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """The control API (and PATCH) set an IANA or a Windows name; Graph returns it in the format it was set in."""
    assert control.post(f"/mailboxes/{business}/settings", json={"timeZone": "Asia/Tokyo"}).status_code == 200
    assert client.get(f"/users/{business}/mailboxSettings/timeZone").json()["value"] == "Asia/Tokyo"
    patched = client.patch(f"/users/{business}/mailboxSettings", json={"timeZone": "Pacific Standard Time"})
    assert patched.status_code == 403   # PATCH needs MailboxSettings.ReadWrite, which the default grant lacks
    control.post("/options", json={"granted_permissions": ["MailboxSettings.ReadWrite"]})
    assert client.patch(f"/users/{business}/mailboxSettings", json={"timeZone": "Pacific Standard Time"}).json()["timeZone"] \
        == "Pacific Standard Time"
    assert client.get(f"/users/{business}/mailboxSettings/timeZone").json()["value"] == "Pacific Standard Time"


@pytest.mark.parametrize("body", [{"timeZone": "Mars/Olympus_Mons"}, {"timeZone": ""}, {"userPurpose": "user"}, {"colour": 1}])
def test_bad_mailbox_settings_are_refused(control: httpx.Client, business: str, body: dict) -> None:
    """Unknown zones, read-only and unknown settings are Graph's 400."""
    assert control.post(f"/mailboxes/{business}/settings", json=body).status_code == 400


def test_mailbox_settings_need_a_mailbox_settings_permission(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """Without MailboxSettings.Read(Write) the read is a 403 naming the permission."""
    control.post("/options", json={"granted_permissions": ["Calendars.Read"]})
    response = client.get(f"/users/{business}/mailboxSettings/timeZone")
    assert response.status_code == 403 and "MailboxSettings.Read" in response.json()["error"]["message"]


@pytest.mark.parametrize("method", ["post", "patch"])
def test_a_time_zone_on_a_booking_business_is_refused(client: httpx.Client, control: httpx.Client, business: str,
                                                      method: str) -> None:
    """Graph's model has no bookingBusiness.timeZone: creating or patching one is a 400."""
    control.post("/options", json={"granted_permissions": ["Bookings.Manage.All"]})
    url = "/solutions/bookingBusinesses" + ("" if method == "post" else f"/{business}")
    body = {"displayName": "Zoned", "email": "zoned@contoso.com", "timeZone": "UTC"}
    response = getattr(client, method)(url, json=body)
    assert response.status_code == 400 and "timeZone" in response.json()["error"]["message"]
