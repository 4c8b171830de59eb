"""Writes on a scheduling mailbox's events (anonymisation of the calendar copy): Calendars.ReadWrite,
single and batched, with Graph's status and request id as evidence."""
from __future__ import annotations

import pytest

from connector import GraphConnector, NotFound, PermissionMissing


@pytest.fixture
def writable(control, business: str):  # type: ignore[no-untyped-def]
    """The app may write calendars; restored afterwards."""
    granted = control.options()["granted_permissions"]
    control.options(granted_permissions=[*granted, "Calendars.ReadWrite"])
    yield business
    control.options(granted_permissions=granted)


def test_an_event_write_without_calendars_readwrite_names_the_permission(graph: GraphConnector, business: str) -> None:
    """Calendars.Read is not enough to change the copy: PermissionMissing names Calendars.ReadWrite."""
    event = next(iter(graph.mailbox.events(business)))
    with pytest.raises(PermissionMissing) as refused:
        graph.mailbox.update_event(business, event.id, {"body": {"contentType": "text", "content": ""}})
    assert "Calendars.ReadWrite" in refused.value.permissions


def test_events_are_patched_and_deleted_singly_and_in_batches(graph: GraphConnector, writable: str) -> None:
    """update_event/delete_event and their batched forms; batched items carry status and request id."""
    first, second, third = [e.id for e in graph.mailbox.events(writable)][:3]
    graph.mailbox.update_event(writable, first, {"body": {"contentType": "text", "content": "clean"}})
    assert [d.value["body"]["content"] for d in graph.mailbox.event_documents(writable, [first])] == ["clean"]
    patched = list(graph.mailbox.update_events(writable, {second: {"subject": "Booking"}}))
    assert patched[0].ok and patched[0].status == 200 and patched[0].request_id
    graph.mailbox.delete_event(writable, first)
    deleted = {r.id: r for r in graph.mailbox.delete_events(writable, [third, first])}
    assert deleted[third].ok and deleted[third].status == 204
    assert isinstance(deleted[first].error, NotFound) and deleted[first].status == 404
