"""How stale the receiver's view of a subscription may be: a deleted subscription keeps being
accepted for at most KNOWN_TTL_SECONDS (30 s), then is refused.

30 s is acceptable: Graph may still deliver for a subscription after its DELETE anyway (the
receiver already expects it), and what the window lets in is ids only, stored once, carrying no
data the worker trusts (it reads each event from Graph). The cache keeps a burst at one lookup,
so the window is bounded rather than zero.
"""
from sqlalchemy.orm import Session

from state import subscription_lookup
from state.subscriptions import forget_subscription
from webhook_items import inbox_rows, metric, notification, post


def test_a_deleted_subscription_stops_being_accepted_within_the_ttl(app, client, subscription, monkeypatch):
    seconds = [1000.0]
    monkeypatch.setattr(subscription_lookup.time, "monotonic", lambda: seconds[0])   # the cache's clock only
    post(client, notification(subscription, event_id="before"))   # now cached as known
    with Session(app.extensions["bookings_ledger.engine"]) as session, session.begin():
        forget_subscription(session, subscription["id"])
    seconds[0] += subscription_lookup.KNOWN_TTL_SECONDS - 1
    post(client, notification(subscription, event_id="stale"))     # still inside the window
    seconds[0] += 2
    post(client, notification(subscription, event_id="after"))     # past it: looked up again, refused
    assert sorted(row.resource_id for row in inbox_rows(app)) == ["before", "stale"]
    assert metric(client, 'bl_notifications_rejected_total{reason="unknown_subscription"}') == 1
