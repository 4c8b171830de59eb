"""Appointments, customers and events parse defensively into our own dataclasses."""
from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given
from hypothesis import strategies as st

from connector.models import AppointmentUpdate, CustomerInfo, CustomerUpdate, Phone, QuestionAnswer
from connector.parse import parse_appointment, parse_customer, parse_customer_info, parse_event

WHEN = {"dateTime": "2024-03-01T10:00:00.0000000+00:00", "timeZone": "UTC"}
LATER = {"dateTime": "2024-03-01T10:30:00.0000000", "timeZone": "UTC"}
CUSTOMER = {
    "@odata.type": "#microsoft.graph.bookingCustomerInformation", "customerId": "c1", "name": "Jane Doe",
    "emailAddress": "jane@example.com", "phone": "+1 555", "timeZone": "UTC",
    "customQuestionAnswers": [{"questionId": "q1", "question": "Age?", "answer": "41", "selectedOptions": []}],
}


def test_both_spellings_of_start_and_end_are_accepted() -> None:
    """calendarView examples say start/end, list and GET say startDateTime/endDateTime (§1.2)."""
    a = parse_appointment({"id": "a", "startDateTime": WHEN, "endDateTime": LATER}, "b")
    b = parse_appointment({"id": "a", "start": WHEN, "end": LATER}, "b")
    assert a.start == b.start == datetime(2024, 3, 1, 10, 0, tzinfo=timezone.utc)
    assert a.end == b.end == datetime(2024, 3, 1, 10, 30, tzinfo=timezone.utc)


def test_customers_come_from_customers_first_then_the_legacy_fields() -> None:
    legacy = {"customerName": "Old Name", "customerEmailAddress": "old@example.com", "customerPhone": "1"}
    both = parse_appointment({"id": "a", "customers": [CUSTOMER], **legacy}, "b")
    assert [c.email for c in both.customers] == ["jane@example.com"]
    assert both.legacy_customer is not None and both.legacy_customer.email == "old@example.com"
    only_legacy = parse_appointment({"id": "a", "customers": [], **legacy}, "b")
    assert [c.name for c in only_legacy.customers] == ["Old Name"]
    nobody = parse_appointment({"id": "a", "customers": None}, "b")
    assert nobody.customers == () and nobody.legacy_customer is None


def test_personal_data_never_appears_in_repr() -> None:
    appointment = parse_appointment({"id": "a", "customers": [CUSTOMER], "serviceNotes": "allergic"}, "b")
    customer = parse_customer({"id": "c", "displayName": "Jane Doe", "emailAddress": "jane@example.com",
                               "phones": [{"type": "mobile", "number": "+1 555"}]}, "b")
    for text in (repr(appointment), repr(customer), repr(appointment.customers[0])):
        assert "Jane" not in text and "jane@" not in text and "555" not in text and "allergic" not in text


def test_a_windows_zone_name_leaves_the_time_naive_rather_than_guessed() -> None:
    parsed = parse_event({"id": "e", "start": {"dateTime": "2024-03-01T10:00:00", "timeZone": "Pacific Standard Time"}})
    assert parsed.start == datetime(2024, 3, 1, 10, 0) and parsed.start.tzinfo is None
    berlin = parse_event({"id": "e", "start": {"dateTime": "2024-03-01T10:00:00", "timeZone": "Europe/Berlin"}})
    assert berlin.start is not None and berlin.start.utcoffset() is not None


def test_delta_removals_are_marked() -> None:
    assert parse_event({"id": "e", "@removed": {"reason": "deleted"}}).removed == "deleted"
    assert parse_event({"id": "e"}).removed is None


def test_update_bodies_name_their_odata_types_and_only_the_fields_set() -> None:
    assert AppointmentUpdate(service_notes="").to_json() == {
        "@odata.type": "#microsoft.graph.bookingAppointment", "serviceNotes": ""}
    assert CustomerUpdate(phones=()).to_json() == {"@odata.type": "#microsoft.graph.bookingCustomer", "phones": []}
    assert CustomerUpdate(phones=(Phone("mobile", "1"),)).to_json()["phones"] == [{"type": "mobile", "number": "1"}]


text = st.one_of(st.none(), st.text(max_size=20))


@given(customer_id=text, name=text, email=text, phone=text, zone=text,
       answers=st.lists(st.tuples(text, text, text), max_size=3))
def test_customer_information_survives_a_round_trip_through_json(customer_id, name, email, phone, zone, answers) -> None:
    """What we PATCH into customers[] reads back as the same CustomerInfo (notes are read-only)."""
    info = CustomerInfo(customer_id=customer_id or None, name=name, email=email, phone=phone, time_zone=zone,
                        answers=tuple(QuestionAnswer(q, question, a) for q, question, a in answers))
    assert parse_customer_info(info.to_json()) == info
