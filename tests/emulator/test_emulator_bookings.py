"""Bookings API: shapes pinned to Graph's documentation samples, paging, errors, quirks."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from emulator_helpers import new_appointment

DATA = Path(__file__).parent / "data"
APPOINTMENT_KEYS = {  # the v1.0 bookingAppointment model (graph-facts §1.2)
    "id", "additionalInformation", "anonymousJoinWebUrl", "appointmentLabel", "createdDateTime", "lastUpdatedDateTime",
    "customerEmailAddress", "customerName", "customerPhone", "customerNotes", "customerTimeZone", "customers", "duration",
    "startDateTime", "endDateTime", "filledAttendeesCount", "maximumAttendeesCount", "isCustomerAllowedToManageBooking",
    "isLocationOnline", "joinWebUrl", "optOutOfCustomerEmail", "preBuffer", "postBuffer", "price", "priceType", "reminders",
    "selfServiceAppointmentId", "serviceId", "serviceName", "serviceLocation", "serviceNotes", "smsNotificationsEnabled",
    "staffMemberIds"}


def _sample() -> dict:
    return json.loads((DATA / "post_appointment_request.json").read_text())["body"]


def test_docs_create_sample_is_accepted_and_answered_in_the_documented_shape(client: httpx.Client, business: str) -> None:
    """The request example of bookingbusiness-post-appointments gives 201 and the documented response fields."""
    response = client.post(f"/solutions/bookingBusinesses/{business}/appointments", json=_sample())
    assert response.status_code == 201
    created = response.json()
    assert created["@odata.context"].endswith("/appointments/$entity")
    assert set(created) - {"@odata.context"} == APPOINTMENT_KEYS
    assert created["id"].startswith("AAMkAD")
    assert created["startDateTime"] == {"dateTime": "2018-05-01T12:00:00.0000000Z", "timeZone": "UTC"}
    assert created["endDateTime"] == {"dateTime": "2018-05-01T12:30:00.0000000Z", "timeZone": "UTC"}
    assert created["duration"] == "PT30M" and created["serviceName"] == "Catered bento"
    assert created["reminders"][0] == {"message": "This service is tomorrow", "offset": "P1D", "recipients": "allAttendees"}
    customer = created["customers"][0]
    assert customer["@odata.type"] == "#microsoft.graph.bookingCustomerInformation"
    assert customer["customQuestionAnswers"][0]["answer"] == "25"
    assert created["filledAttendeesCount"] == 1 and created["maximumAttendeesCount"] == 5
    # A multi-customer service keeps the legacy single-customer fields null (§1.2).
    assert created["customerName"] is None


def test_listed_appointments_have_the_shape_of_the_docs_list_sample(client: httpx.Client, business: str) -> None:
    """Every property of the list-appointments response example is present, with the same nested shapes."""
    sample = json.loads((DATA / "list_appointments_response.json").read_text())["body"]
    client.post(f"/solutions/bookingBusinesses/{business}/appointments", json=_sample())
    page = client.get(f"/solutions/bookingBusinesses/{business}/calendarView",
                      params={"start": "2018-05-01T00:00:00Z", "end": "2018-05-02T00:00:00Z"}).json()
    expected, ours = sample["value"][0], page["value"][0]
    assert set(expected) <= set(ours)
    assert set(expected["customers"][0]) <= set(ours["customers"][0])
    for name in ("serviceLocation", "startDateTime", "endDateTime"):
        assert _shape(ours[name]) == _shape(expected[name])
    assert _shape(ours["customers"][0]["location"]) == _shape(expected["customers"][0]["location"])
    assert ours["customers"][0]["customQuestionAnswers"] == expected["customers"][0]["customQuestionAnswers"]
    assert page["@odata.context"].endswith("/solutions/$metadata#bookingBusinesses('contosodental%40contoso.onmicrosoft.com')/calendarView")


def test_get_by_id_returns_utc_times_and_the_fields_lists_leave_out(client: httpx.Client, business: str) -> None:
    """Local times in, UTC out; serviceNotes/customerNotes/reminders only on GET-by-id (§1.2)."""
    body = {**_sample(), "startDateTime": {"dateTime": "2030-03-04T09:00:00", "timeZone": "America/Chicago"},
            "endDateTime": {"dateTime": "2030-03-04T09:45:00", "timeZone": "Central Standard Time"},
            "customerNotes": "knee injury"}
    created = client.post(f"/solutions/bookingBusinesses/{business}/appointments", json=body).json()
    single = client.get(f"/solutions/bookingBusinesses/{business}/appointments/{created['id']}").json()
    assert single["startDateTime"] == {"dateTime": "2030-03-04T15:00:00.0000000Z", "timeZone": "UTC"}
    assert single["serviceNotes"] == "Customer requires punctual service." and single["customerNotes"] == "knee injury"
    listed = _all(client, f"/solutions/bookingBusinesses/{business}/appointments")
    mine = next(a for a in listed if a["id"] == created["id"])
    assert mine["serviceNotes"] is None and mine["customerNotes"] is None and mine["reminders"] == []
    assert mine["customers"][0]["name"] == "Jordan Miller"


def test_patch_answers_204_and_ignores_the_legacy_customer_fields(client: httpx.Client, business: str) -> None:
    """bookingappointment-update: 204 without body; customerName etc. are not updatable."""
    created = new_appointment(client, business)
    url = f"/solutions/bookingBusinesses/{business}/appointments/{created['id']}"
    response = client.patch(url, json={"customerName": "Changed", "customerNotes": "changed", "serviceNotes": "staff note",
                                       "endDateTime": {"dateTime": "2030-01-07T11:00:00+00:00", "timeZone": "UTC"}})
    assert response.status_code == 204 and response.content == b""
    after = client.get(url).json()
    assert after["customerName"] == "Ada Lovelace" and after["customerNotes"] is None
    assert after["serviceNotes"] == "staff note" and after["duration"] == "PT1H"


def test_customer_notes_are_set_only_when_the_customer_is_new(client: httpx.Client, business: str) -> None:
    """bookingCustomerInformation.notes: settable at first creation only, kept on later PATCHes."""
    created = new_appointment(client, business)
    url = f"/solutions/bookingBusinesses/{business}/appointments/{created['id']}"
    customers = [{**created["customers"][0], "notes": "rewritten", "name": "Ada L."}]
    assert client.patch(url, json={"customers": customers}).status_code == 204
    after = client.get(url).json()["customers"][0]
    assert after["notes"] == "first visit" and after["name"] == "Ada L."


def test_customer_patch_answers_200_with_the_object_and_delete_204(client: httpx.Client, business: str) -> None:
    """bookingcustomer-update returns the updated customer; delete returns 204, then 404."""
    created = client.post(f"/solutions/bookingBusinesses/{business}/customers",
                          json={"@odata.type": "#microsoft.graph.bookingCustomer", "displayName": "Joni", "emailAddress": "joni@example.com"})
    assert created.status_code == 201
    url = f"/solutions/bookingBusinesses/{business}/customers/{created.json()['id']}"
    patched = client.patch(url, json={"@odata.type": "#microsoft.graph.bookingCustomer", "displayName": "Joni B."})
    assert patched.status_code == 200 and patched.json()["displayName"] == "Joni B."
    assert patched.json()["@odata.type"] == "#microsoft.graph.bookingCustomer"
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404


def test_cancel_answers_204_then_404_and_delete_answers_204(client: httpx.Client, business: str) -> None:
    """bookingappointment-cancel: 204, and 404 when the appointment does not exist."""
    first, second = new_appointment(client, business), new_appointment(client, business, start="2030-01-08T10:00:00")
    base = f"/solutions/bookingBusinesses/{business}/appointments"
    assert client.post(f"{base}/{first['id']}/cancel", json={"cancellationMessage": "Sorry"}).status_code == 204
    assert client.get(f"{base}/{first['id']}").status_code == 404
    assert client.post(f"{base}/{first['id']}/cancel", json={"cancellationMessage": "again"}).status_code == 404
    assert client.delete(f"{base}/{second['id']}").status_code == 204


@pytest.mark.parametrize("query", [{}, {"start": "2030-01-01T00:00:00Z"}, {"start": "2030-01-01T00:00:00", "end": "2030-02-01T00:00:00"},
                                   {"start": "yesterday", "end": "2030-02-01T00:00:00Z"}])
def test_calendar_view_needs_start_and_end_with_offsets(client: httpx.Client, business: str, query: dict) -> None:
    """calendarView: start and end are required DateTimeOffset values (§1.5)."""
    response = client.get(f"/solutions/bookingBusinesses/{business}/calendarView", params=query)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "ErrorInvalidParameter"


def test_calendar_view_returns_appointments_overlapping_the_window(client: httpx.Client, business: str) -> None:
    """An appointment that starts before the window and ends inside it is included; one after it is not."""
    inside = new_appointment(client, business, start="2031-05-01T09:30:00", minutes=60)
    after = new_appointment(client, business, start="2031-05-01T11:00:00")
    view = client.get(f"/solutions/bookingBusinesses/{business}/calendarView",
                      params={"start": "2031-05-01T12:00:00+02:00", "end": "2031-05-01T13:00:00+02:00"}).json()
    ids = [a["id"] for a in view["value"]]
    assert inside["id"] in ids and after["id"] not in ids


def test_paging_follows_absolute_next_links_to_every_appointment(client: httpx.Client, business: str) -> None:
    """Server-driven paging: absolute @odata.nextLink until absent, every item once."""
    first = client.get(f"/solutions/bookingBusinesses/{business}/appointments", headers={"Prefer": "odata.maxpagesize=7"}).json()
    assert len(first["value"]) == 7 and urlsplit(first["@odata.nextLink"]).scheme == "http"
    everything = _all(client, f"/solutions/bookingBusinesses/{business}/appointments", page=7)
    assert len(everything) == 30 and len({a["id"] for a in everything}) == 30


def test_top_returns_no_next_link(client: httpx.Client, business: str) -> None:
    """With $top the appointments endpoint gives no nextLink (msgraph-sdk-powershell#1351)."""
    page = client.get(f"/solutions/bookingBusinesses/{business}/appointments", params={"$top": "5"}).json()
    assert len(page["value"]) == 5 and "@odata.nextLink" not in page


def test_count_is_reported_when_asked(client: httpx.Client, business: str) -> None:
    """$count=true adds @odata.count."""
    page = client.get(f"/solutions/bookingBusinesses/{business}/appointments", params={"$count": "true"}).json()
    assert page["@odata.count"] == 30


def test_list_businesses_returns_only_id_and_display_name(client: httpx.Client, business: str) -> None:
    """bookingbusiness-list: id and displayName only."""
    listed = client.get("/solutions/bookingBusinesses").json()["value"]
    assert listed == [{"id": business, "displayName": "Contoso Dental"}]


def test_errors_have_graphs_shape_and_request_id_headers(client: httpx.Client, business: str) -> None:
    """error.code, error.message, innerError with request-id and date; headers carry the ids."""
    response = client.get(f"/solutions/bookingBusinesses/{business}/appointments/AAMkADmissing=", headers={"client-request-id": "abc"})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "ErrorItemNotFound" and error["message"]
    assert error["innerError"]["request-id"] == response.headers["request-id"]
    assert error["innerError"]["client-request-id"] == response.headers["client-request-id"] == "abc"
    assert error["innerError"]["date"]


def test_double_slash_after_the_version_is_accepted(client: httpx.Client, server, business: str) -> None:
    """The SDK sends /v1.0//solutions/… (sdk-notes §2); real Graph accepts it."""
    response = httpx.get(server.graph_url + "//solutions/bookingBusinesses", headers={"Authorization": "Bearer x"})
    assert response.status_code == 200


def test_connections_are_kept_alive(server, business: str) -> None:
    """HTTP/1.1 keep-alive: several requests travel over one connection."""
    connection = http.client.HTTPConnection("127.0.0.1", int(server.base_url.rsplit(":", 1)[1]), timeout=10)
    try:
        for _ in range(3):
            connection.request("GET", "/v1.0/solutions/bookingBusinesses", headers={"Authorization": "Bearer x"})
            response = connection.getresponse()
            response.read()
            assert response.status == 200 and response.getheader("Connection") != "close"
        connection.request("PATCH", f"/v1.0/solutions/bookingBusinesses/{business}/appointments/none", body=b'{"a": 1}',
                           headers={"Authorization": "Bearer x", "Content-Type": "application/json"})
        assert connection.getresponse().read() and True
        connection.request("GET", "/v1.0/solutions/bookingBusinesses", headers={"Authorization": "Bearer x"})
        assert connection.getresponse().status == 200
    finally:
        connection.close()


def test_quirk_empty_customers_in_lists_and_calendar_view(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """§6.2 switch: lists and calendarView return customers[] empty; GET-by-id still has them."""
    created = new_appointment(client, business, start="2032-02-02T10:00:00")
    control.post("/options", json={"quirk_empty_customers_in_lists": True})
    view = client.get(f"/solutions/bookingBusinesses/{business}/calendarView",
                      params={"start": "2032-02-02T00:00:00Z", "end": "2032-02-03T00:00:00Z"}).json()["value"]
    assert view[0]["customers"] == []
    single = client.get(f"/solutions/bookingBusinesses/{business}/appointments/{created['id']}").json()
    assert single["customers"][0]["name"] == "Ada Lovelace"


def test_quirk_start_end_aliases(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """§6.3 switch: start/end appear beside startDateTime/endDateTime."""
    control.post("/options", json={"quirk_start_end_aliases": True})
    created = new_appointment(client, business)
    assert created["start"] == created["startDateTime"] and created["end"] == created["endDateTime"]


def test_legacy_fields_can_be_made_patchable(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """With the legacy-field quirk off, PATCH changes customerName (to test code that must not rely on it)."""
    control.post("/options", json={"quirk_legacy_customer_fields_ignored_by_patch": False})
    created = new_appointment(client, business)
    url = f"/solutions/bookingBusinesses/{business}/appointments/{created['id']}"
    client.patch(url, json={"customerName": "Anonymous"})
    assert client.get(url).json()["customerName"] == "Anonymous"


def _shape(value: object) -> object:
    """Keys all the way down (values ignored)."""
    return {k: _shape(v) for k, v in value.items()} if isinstance(value, dict) else None


def _all(client: httpx.Client, url: str, page: int = 100) -> list[dict]:
    items, next_url = [], url
    for _ in range(1000):
        body = client.get(next_url, headers={"Prefer": f"odata.maxpagesize={page}"}).json()
        items += body["value"]
        next_url = body.get("@odata.nextLink")
        if not next_url:
            return items
    raise AssertionError("paging did not end")
