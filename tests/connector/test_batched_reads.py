"""Typed batched reads: events by id and several calendarView windows, in $batch rounds."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from connector import Appointment, Event, GraphConnector, NotFound


def test_events_are_read_by_id_twenty_to_an_envelope_with_missing_ones_as_not_found(
        graph: GraphConnector, control, business: str) -> None:
    ids = [e.id for e in graph.mailbox.events(business)][:25]
    control.reset_counts()
    results = list(graph.mailbox.events_by_ids(business, [*ids, ids[0], "AAMk-missing"]))
    assert [r.id for r in results] == [*ids, "AAMk-missing"]
    assert all(isinstance(r.value, Event) and r.value.id == r.id and r.value.start.tzinfo for r in results[:-1])
    assert results[-1].value is None and isinstance(results[-1].error, NotFound)
    assert control.count("POST", "$batch") == 2


def test_calendar_views_list_each_window_in_full_following_next_links_in_batch_rounds(
        graph: GraphConnector, control, business: str) -> None:
    control.options(page_size=4)
    now = datetime.now(timezone.utc)
    windows = [(now - timedelta(days=400), now), (now, now + timedelta(days=400)), (now + timedelta(days=900), now + timedelta(days=901))]
    control.reset_counts()
    results = graph.bookings.calendar_views(business, windows)
    assert [r.id for r in results] == ["0", "1", "2"] and all(r.ok for r in results)
    for (start, end), result in zip(windows, results):
        expected = {a.id for a in graph.bookings.calendar_view(business, start, end)}
        assert {a.id for a in result.value} == expected and len(result.value) == len(expected)
        assert all(isinstance(a, Appointment) and a.business_id == business for a in result.value)
    assert results[2].value == ()
    longest = max(len(r.value) for r in results)
    assert control.count("POST", "$batch") == -(-longest // 4)   # one round per page depth


def test_a_failed_window_carries_its_error_and_the_others_still_list(graph: GraphConnector, control, business: str) -> None:
    now = datetime.now(timezone.utc)
    control.faults({"status": 403, "route": "calendarView", "count": 1})
    results = graph.bookings.calendar_views(business, [(now - timedelta(days=30), now), (now, now + timedelta(days=30))])
    assert sum(r.error is not None for r in results) == 1 and sum(r.ok for r in results) == 1
    assert next(r for r in results if r.error).value is None
