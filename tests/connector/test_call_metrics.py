"""Every Graph answer is told to the connector's observer: method, route template, status; no ids."""
from __future__ import annotations

import pytest

from connector import NotFound


def test_calls_and_batch_items_are_observed_by_route_template_and_status(make_connector, control, business: str) -> None:
    seen: list[tuple[str, str, str]] = []
    graph = make_connector(observe=lambda method, route, status: seen.append((method, route, status)))
    ids = [a.id for a in graph.bookings.appointments(business)][:3]
    with pytest.raises(NotFound):
        graph.bookings.appointment(business, "AAMk-missing")
    list(graph.bookings.appointments_by_ids(business, [*ids, "AAMk-missing"]))
    item = "/solutions/bookingBusinesses/{id}/appointments/{id}"
    assert ("GET", "/solutions/bookingBusinesses/{id}/appointments", "2xx") in seen
    assert ("GET", item, "404") in seen
    assert ("POST", "/$batch", "2xx") in seen
    assert seen.count(("GET", item, "2xx")) == 3 and seen.count(("GET", item, "404")) == 2
    assert not any(business in route or any(i in route for i in ids) for _, route, _ in seen)


def test_a_throttled_then_answered_call_counts_both_answers(make_connector, control, business: str) -> None:
    seen: list[tuple[str, str, str]] = []
    graph = make_connector(observe=lambda method, route, status: seen.append((method, route, status)))
    control.faults({"status": 429, "route": "bookingBusinesses/[^/]+$", "count": 1, "retry_after": 0.05})
    graph.bookings.business(business)
    assert seen == [("GET", "/solutions/bookingBusinesses/{id}", "429"), ("GET", "/solutions/bookingBusinesses/{id}", "2xx")]
