"""The inbox worker end to end: a change in the emulator → notification → inbox → worker → ledger."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from ingestion_pipeline import Pipeline
from jobs.worker import Worker
from state.inbox import MAX_ATTEMPTS, InboxItem, accept


@pytest.fixture
def pipeline(make_services, control, service, graph, ingestor, emulator) -> Pipeline:
    business = control.seed(appointments=3, customers=5)[0]
    make_services([business]).subscriptions.ensure_all()
    worker = Worker(service.ledger, ingestor, graph, clock=service.ledger.clock)
    return Pipeline(worker, control, business, emulator.graph_url)


def _soon(pipeline: Pipeline, days: int = 3):
    return pipeline.worker.clock().replace(hour=10, minute=0, second=0, microsecond=0) + timedelta(days=days)


def test_a_new_booking_is_collected_once_per_customer_classified_and_without_personal_data(pipeline):
    """One `collected` entry per customer, every field classified and stamped with the policy's rule
    (period and clock), never a date; the dates are in the retention projection."""
    appointment_id = pipeline.book(_soon(pipeline), customers=2)
    pipeline.settle()
    collected = pipeline.entries("collected")
    assert len(collected) == 2 and {e["refs"]["appointment"] for e in collected} == {appointment_id}
    assert len({e["subject"] for e in collected}) == 2
    for entry in collected:
        assert set(entry["classes"]) == {"booking.identity", "booking.contact", "booking.details", "booking.notes",
                                         "booking.answers", "account.preferences"}
        assert entry["classes"]["booking.notes"]["legal_basis"] == "contract"
        assert entry["classes"]["booking.notes"]["period"] == "P90D" and entry["classes"]["booking.details"]["period"] == "P6Y"
        assert all("retention_until" not in c for c in entry["classes"].values()) and "content_digest" not in entry
        assert entry["notice_version"] == "2024-02-26" and entry["policy_version"]
        assert "email" in entry["fields"] and len(entry["digests"]) == len(entry["fields"])
    body = pipeline.ledger_bytes()
    for value in (b"ada@example.com", b"Ada Lovelace", b"Allergic", b"First visit", b"7946 0018", b"442079460018"):
        assert value not in body
    assert all(row.state == "done" for row in pipeline.inbox())


def test_reschedule_and_customer_edit_are_updated_and_cancel_and_delete_are_cancelled(pipeline):
    """Each real change gives exactly its entry: updated, updated, cancelled, cancelled."""
    first, second = pipeline.book(_soon(pipeline)), pipeline.book(_soon(pipeline, 4))
    pipeline.settle()
    start = _soon(pipeline, 5)
    pipeline.patch(first, {"startDateTime": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
                           "endDateTime": {"dateTime": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}})
    pipeline.settle()
    assert [e["refs"]["appointment"] for e in pipeline.entries("updated")] == [first]
    customers = pipeline.control.state()["businesses"][0]["appointments"]
    people = next(a for a in customers if a["id"] == first)["customers"]
    pipeline.patch(first, {"customers": [{**people[0], "emailAddress": "ada.new@example.com"}]})
    pipeline.settle()
    assert [e["refs"]["appointment"] for e in pipeline.entries("updated")] == [first, first]
    pipeline.cancel(first)
    pipeline.delete(second)
    pipeline.settle()
    assert sorted(e["refs"]["appointment"] for e in pipeline.entries("cancelled")) == sorted([first, second])
    assert len(pipeline.entries("collected")) == 2


def test_duplicate_and_stale_notifications_write_nothing(pipeline, control, service):
    """Graph's duplicates, and a replay of every notification after the fact, change nothing."""
    control.call("POST", "/faults", {"notifications": {"duplicate": 1.0, "reorder": 0.5}})
    appointment_id = pipeline.book(_soon(pipeline))
    pipeline.patch(appointment_id, {"serviceNotes": "Second visit."})
    pipeline.settle()
    before = pipeline.entries()
    assert [e["kind"] for e in before if e.get("refs", {}).get("appointment") == appointment_id] in (
        ["collected"], ["collected", "updated"])
    replayed = [InboxItem("change", r.subscription_id, r.event, r.resource, r.resource_id, f"replay-{r.id}")
                for r in pipeline.inbox()]
    accept(service.ledger.engine, replayed, pipeline.worker.clock())
    pipeline.settle()
    assert pipeline.entries() == before
    assert all(row.state == "done" for row in pipeline.inbox())


def test_an_erased_appointment_and_customer_never_come_back_nor_are_read_again(pipeline, service, control):
    """After erasure, new changes to the appointment write nothing, and its id is never read from Graph again."""
    appointment_id = pipeline.book(_soon(pipeline))
    pipeline.settle()
    (collected,) = pipeline.entries("collected")
    service.ledger.erase_subject(collected["subject"], reason="erasure-request")
    before, notified = len(pipeline.entries()), len(pipeline.inbox())
    control.call("DELETE", "/requests")
    pipeline.patch(appointment_id, {"serviceNotes": "Changed after erasure."})
    pipeline.settle()
    assert len(pipeline.inbox()) > notified and all(row.state == "done" for row in pipeline.inbox())
    assert len(pipeline.entries()) == before
    assert pipeline.worker.ingestor.known_appointments(pipeline.business, _soon(pipeline, -1), _soon(pipeline, 9)) == set()
    reads = [r["path"] for r in control.call("GET", "/requests/log") if r["method"] == "GET"]
    assert not [path for path in reads if appointment_id in path]


def test_a_poison_row_is_retried_with_backoff_then_parked_while_others_proceed(pipeline, control):
    """Graph answers 500 forever for one appointment: its rows park with a safe reason; others go on."""
    poisoned, healthy = pipeline.book(_soon(pipeline)), pipeline.book(_soon(pipeline, 6))
    pipeline.settle()
    control.call("POST", "/faults", {"requests": [{"status": 500, "method": "GET", "route": re.escape(poisoned), "retry_after": None}]})
    pipeline.patch(poisoned, {"serviceNotes": "Poison."})
    pipeline.patch(healthy, {"serviceNotes": "Fine."})
    pipeline.settle()
    assert [e["refs"]["appointment"] for e in pipeline.entries("updated")] == [healthy]
    for _ in range(MAX_ATTEMPTS):
        control.advance(seconds=1000)   # past every backoff step; the service's clock is Graph's
        pipeline.settle()
    (parked,) = [r for r in pipeline.inbox() if r.state != "done"]
    assert parked.state == "parked" and parked.attempts == MAX_ATTEMPTS
    assert parked.last_error == "Unavailable (HTTP 500) reading appointment"
    assert [e["refs"]["appointment"] for e in pipeline.entries("updated")] == [healthy]


def test_lifecycle_rows_wait_for_their_handler(pipeline, service):
    """Without a lifecycle handler wired, lifecycle rows stay pending rather than being faked."""
    item = InboxItem("lifecycle", "sub-x", "missed", "", None, "1")
    accept(service.ledger.engine, [item], pipeline.worker.clock())
    pipeline.settle()
    assert [r.state for r in pipeline.inbox() if r.kind == "lifecycle"] == ["pending"]
