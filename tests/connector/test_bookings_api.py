"""Bookings reads and writes against the emulator over loopback HTTP: paging, windows, writes."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from connector import AppointmentUpdate, CustomerInfo, CustomerUpdate, GraphConnector, NotFound
from connector.parse import parse_date_time_zone
from ledger.identifiers import IdentifierError, normalise_email

LIST = "/appointments"


def test_listing_follows_next_links_across_pages_without_top(graph: GraphConnector, control, business: str) -> None:
    """50 appointments at 7 a page: 8 pages, every appointment exactly once."""
    control.options(page_size=7)
    ids = [a.id for a in graph.bookings.appointments(business)]
    assert len(ids) == len(set(ids)) == 50
    assert control.count("GET", "<business_id>/appointments", 200) == 8


def test_listing_streams_one_page_at_a_time(graph: GraphConnector, control, business: str) -> None:
    """Taking the first item fetches one page only: memory stays flat however big the business."""
    control.options(page_size=10)
    first = next(iter(graph.bookings.appointments(business)))
    assert first.business_id == business
    assert control.count("GET", "<business_id>/appointments", 200) == 1


def test_calendar_view_returns_exactly_the_appointments_overlapping_the_window(graph: GraphConnector, control, business: str) -> None:
    control.options(page_size=5)
    stored = control.business_state(business)["appointments"]
    times = {a["id"]: (parse_date_time_zone(a["startDateTime"]), parse_date_time_zone(a["endDateTime"])) for a in stored}
    start = min(s for s, _ in times.values()) + timedelta(days=20)
    end = start + timedelta(days=30)
    expected = {i for i, (s, e) in times.items() if s < end and e > start}
    seen = list(graph.bookings.calendar_view(business, start, end))
    assert {a.id for a in seen} == expected and len(seen) == len(expected) > 5
    assert all(a.start is not None and a.start < end and a.end > start for a in seen)


def test_calendar_view_refuses_naive_bounds(graph: GraphConnector, business: str) -> None:
    with pytest.raises(ValueError, match="timezone"):
        list(graph.bookings.calendar_view(business, datetime(2024, 1, 1), datetime(2024, 2, 1)))


def test_get_by_id_returns_customers_and_a_missing_id_raises_not_found(graph: GraphConnector, business: str) -> None:
    appointment_id = next(iter(graph.bookings.appointments(business))).id
    appointment = graph.bookings.appointment(business, appointment_id)
    assert appointment.customers and appointment.customers[0].email
    with pytest.raises(NotFound) as raised:
        graph.bookings.appointment(business, "AAMk-missing")
    assert raised.value.status == 404 and raised.value.request_id
    assert "AAMk-missing" not in str(raised.value) and business not in str(raised.value)


def test_start_end_aliases_and_empty_customer_lists_are_survived(graph: GraphConnector, control, business: str) -> None:
    """The field reports of §6: start/end spelled differently, customers[] empty in lists."""
    control.options(quirk_start_end_aliases=True, quirk_empty_customers_in_lists=True)
    listed = list(graph.bookings.appointments(business))
    assert all(a.start and a.end for a in listed)
    full = graph.bookings.appointment(business, listed[0].id)
    assert full.customers and full.customers[0].customer_id


def test_businesses_and_one_business(graph: GraphConnector, control) -> None:
    ids = control.seed(businesses=2)
    assert [b.id for b in graph.bookings.businesses()] == ids
    assert graph.bookings.business(ids[1]).display_name


def test_customers_stream_and_are_found_by_the_ledgers_normal_form(graph: GraphConnector, control, business: str) -> None:
    """Graph-side lookup uses the normaliser it is given: case, a zero-width space and the DNS
    root's trailing dot do not hide the customer; an address without a canonical form is refused."""
    control.options(page_size=6)
    customers = list(graph.bookings.customers(business))
    assert len(customers) == 20
    target = customers[13]
    local, _, domain = target.email.upper().partition("@")
    found = graph.bookings.customers_by_email(business, f"  {local}\u200b@{domain}. ", normalise_email)
    assert [c.id for c in found] == [target.id]
    with pytest.raises(IdentifierError):
        graph.bookings.customers_by_email(business, "no-at-sign", normalise_email)


def test_appointment_patch_delete_and_cancel_reach_graph(graph: GraphConnector, control, business: str) -> None:
    first, second, third = [a.id for a in graph.bookings.appointments(business)][:3]
    anonymous = CustomerInfo(customer_id=None, name="Anonymised", email="", phone="")
    graph.bookings.update_appointment(business, first, AppointmentUpdate(customers=(anonymous,), service_notes=""))
    patched = graph.bookings.appointment(business, first)
    assert [c.name for c in patched.customers] == ["Anonymised"] and patched.service_notes == ""
    graph.bookings.delete_appointment(business, second)
    with pytest.raises(NotFound):
        graph.bookings.appointment(business, second)
    graph.bookings.cancel_appointment(business, third, "Closed for the day.")
    assert third in str(control.business_state(business)["cancelledAppointments"])


def test_customer_patch_and_delete_reach_graph(graph: GraphConnector, business: str) -> None:
    customer = next(iter(graph.bookings.customers(business)))
    graph.bookings.update_customer(business, customer.id, CustomerUpdate(display_name="Erased", email="", phones=()))
    updated = next(c for c in graph.bookings.customers(business) if c.id == customer.id)
    assert (updated.display_name, updated.email, updated.phones) == ("Erased", "", ())
    graph.bookings.delete_customer(business, customer.id)
    assert customer.id not in {c.id for c in graph.bookings.customers(business)}
    with pytest.raises(NotFound):
        graph.bookings.delete_customer(business, customer.id)
