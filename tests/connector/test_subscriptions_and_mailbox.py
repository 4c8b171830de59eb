"""Subscriptions (typed SDK models, converted) and the mailbox calendar with its delta rounds."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

import pytest

from connector import Event, GraphConnector, NotFound, Subscription


def _subscribe(graph: GraphConnector, business: str, webhook_url: str, minutes: int = 4000) -> Subscription:
    return graph.subscriptions.create(
        resource=f"users/{business}/events", notification_url=webhook_url, lifecycle_notification_url=webhook_url,
        client_state=secrets.token_urlsafe(32), expiration=datetime.now(timezone.utc) + timedelta(minutes=minutes),
    )


def test_subscriptions_are_created_with_immutable_ids_renewed_listed_reauthorized_and_deleted(
        graph: GraphConnector, control, emulator, business: str, webhook_url: str) -> None:
    created = _subscribe(graph, business, webhook_url)
    assert isinstance(created, Subscription) and created.id and created.client_state
    assert created.lifecycle_notification_url == webhook_url and created.expiration is not None
    assert emulator.emulator.subscriptions.get(created.id).immutable_ids
    renewed = graph.subscriptions.renew(created.id, datetime.now(timezone.utc) + timedelta(minutes=4200))
    assert renewed.expiration > created.expiration
    assert [s.id for s in graph.subscriptions.list()] == [created.id]
    graph.subscriptions.reauthorize(created.id)
    graph.subscriptions.delete(created.id)
    assert graph.subscriptions.list() == []
    with pytest.raises(NotFound):
        graph.subscriptions.renew(created.id, datetime.now(timezone.utc) + timedelta(days=1))


def test_mailbox_events_are_listed_and_read(graph: GraphConnector, control, business: str) -> None:
    control.options(page_size=9)
    events = list(graph.mailbox.events(business))
    assert len(events) == 50 and all(isinstance(e, Event) and e.start and e.start.tzinfo for e in events)
    assert graph.mailbox.event(business, events[3].id).id == events[3].id


def test_a_delta_round_gives_a_link_from_which_the_next_round_sees_only_changes(graph: GraphConnector, control, business: str) -> None:
    control.options(page_size=8)
    now = datetime.now(timezone.utc)
    first = graph.mailbox.events_delta(business, now - timedelta(days=400), now + timedelta(days=400))
    assert len(list(first)) == 50 and first.delta_link
    quiet = graph.mailbox.events_delta(business, delta_link=first.delta_link)
    assert list(quiet) == [] and quiet.delta_link
    victim = next(iter(graph.bookings.appointments(business))).id
    graph.bookings.delete_appointment(business, victim)
    changed = list(graph.mailbox.events_delta(business, delta_link=quiet.delta_link))
    assert [e.removed for e in changed] == ["deleted"]


def test_a_first_delta_round_needs_an_aware_window(graph: GraphConnector, business: str) -> None:
    with pytest.raises(ValueError):
        graph.mailbox.events_delta(business, datetime(2024, 1, 1), datetime(2024, 2, 1))


def test_a_business_time_zone_is_read_from_its_mailbox_settings(graph: GraphConnector, control, business: str) -> None:
    """The zone is the scheduling mailbox's mailboxSettings.timeZone, returned as the tenant set it."""
    assert graph.mailbox.time_zone(business) == "Central Standard Time"
    control.mailbox_settings(business, timeZone="America/Chicago")
    assert graph.mailbox.time_zone(business) == "America/Chicago"
