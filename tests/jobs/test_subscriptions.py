"""Subscriptions: created through the real web app's handshake, renewed, recreated, never duplicated."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from config import SettingsError, load_settings
from jobs.subscriptions import SubscriptionManager, webhook_urls
from state.client_states import ClientStateKeys
from state.subscriptions import GraphSubscription, client_state_matches
from database.times import parse_time
from state.watermarks import SyncGap


def client_state_keys(service) -> ClientStateKeys:
    return ClientStateKeys.from_settings(load_settings(service.settings))


def manager(service, graph, businesses, **kwargs) -> SubscriptionManager:
    return SubscriptionManager(service.ledger, graph.subscriptions, businesses=businesses,
                               public_base_url=service.base_url, client_state_keys=client_state_keys(service), **kwargs)


def stored(service) -> list[GraphSubscription]:
    with Session(service.ledger.engine) as session:
        return list(session.scalars(select(GraphSubscription).order_by(GraphSubscription.business_id)))


def test_subscribe_creates_one_subscription_per_business_through_the_handshake(service, graph, control, emulator):
    businesses = control.seed(businesses=2)
    report = manager(service, graph, businesses).ensure_all()
    assert sorted(report.created) == sorted(businesses)
    live = {s["id"]: s for s in control.live_subscriptions()}
    rows = stored(service)
    assert {r.subscription_id for r in rows} == set(live) and all(r.state == "active" for r in rows)
    for row in rows:
        sub = live[row.subscription_id]
        assert sub["resource"] == f"users/{row.business_id}/events"
        assert sub["notificationUrl"] == service.base_url + "/webhooks/graph"
        assert sub["lifecycleNotificationUrl"] == service.base_url + "/webhooks/graph/lifecycle"
        assert sub["changeType"] == "created,updated,deleted"
        assert parse_time(row.expires_at) == parse_time(sub["expirationDateTime"].replace("Z", ".000000Z")
                                                        if "." not in sub["expirationDateTime"] else sub["expirationDateTime"])
        assert emulator.emulator.subscriptions.items[row.subscription_id].immutable_ids
        assert client_state_matches(client_state_keys(service), row, sub["clientState"])
        assert row.mailbox_user_id == emulator.emulator.store.business(row.business_id).mailbox_user_id
    assert len({s["clientState"] for s in live.values()}) == 2


def test_a_second_instance_or_a_restart_creates_no_duplicate(service, graph, control):
    businesses = control.seed(businesses=2)
    first, second = manager(service, graph, businesses), manager(service, graph, businesses)
    threads = [threading.Thread(target=m.ensure_all) for m in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    manager(service, graph, businesses).ensure_all()   # a restart
    assert len(control.live_subscriptions()) == 2
    assert len([r for r in stored(service) if r.state == "active"]) == 2


def test_renews_once_half_the_lifetime_is_used_and_stores_what_graph_granted(service, graph, control):
    businesses = control.seed()
    subs = manager(service, graph, businesses)
    subs.ensure_all()
    before = stored(service)[0].expires_at
    control.advance(hours=30)
    assert subs.ensure_all().renewed == []
    control.advance(hours=6)
    assert subs.ensure_all().renewed == businesses
    row = stored(service)[0]
    assert row.expires_at > before
    assert control.live_subscriptions()[0]["expirationDateTime"].startswith(row.expires_at[:19])


def test_a_subscription_removed_in_graph_is_recreated_on_404_with_a_gap(service, graph, control):
    businesses = control.seed()
    subs = manager(service, graph, businesses)
    subs.ensure_all()
    old = stored(service)[0].subscription_id
    graph.subscriptions.delete(old)
    control.advance(hours=36)
    assert subs.ensure_all().recreated == businesses
    assert [s["id"] for s in control.live_subscriptions()] != [old]
    with Session(service.ledger.engine) as session:
        gap = session.scalars(select(SyncGap)).one()
    assert (gap.reason, gap.subscription_id, gap.filled_at) == ("removed", old, None)


def test_a_lapsed_subscription_is_recreated_and_its_window_recorded(service, graph, control):
    businesses = control.seed()
    subs = manager(service, graph, businesses)
    subs.ensure_all()
    expired_at = stored(service)[0].expires_at
    control.advance(hours=80)
    assert subs.ensure_all().recreated == businesses
    with Session(service.ledger.engine) as session:
        gap = session.scalars(select(SyncGap)).one()
    assert (gap.reason, gap.start) == ("lapsed", expired_at)
    assert len(control.live_subscriptions()) == 1


def test_a_create_interrupted_after_graphs_201_is_adopted_not_duplicated(service, graph, control):
    businesses = control.seed()
    subs = manager(service, graph, businesses)
    original = subs._promote
    subs._promote = lambda *args: (_ for _ in ()).throw(RuntimeError("crash after Graph's 201"))
    with pytest.raises(RuntimeError):
        subs.ensure_all()
    assert [r.state for r in stored(service)] == ["pending"]
    subs._promote = original
    manager(service, graph, businesses).ensure_all()
    assert [r.state for r in stored(service)] == ["active"]
    assert [s["id"] for s in control.live_subscriptions()] == [stored(service)[0].subscription_id]


def test_clientstate_is_stored_only_as_a_keyed_hash(service, graph, control):
    """The database holds HMAC-SHA256(CLIENT_STATE_KEY, clientState): neither the secret nor a plain hash."""
    import hashlib

    manager(service, graph, control.seed()).ensure_all()
    secret = control.live_subscriptions()[0]["clientState"]
    with service.ledger.engine.connect() as connection:
        row = connection.execute(text("SELECT * FROM graph_subscriptions")).mappings().one()
    raw = b"".join(bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode() for v in row.values())
    assert secret.encode() not in raw and hashlib.sha256(secret.encode()).digest() not in raw
    assert bytes(row["client_state_hash"]) == client_state_keys(service).digest(secret)


@pytest.mark.parametrize("url", ["http://ledger.contoso.com", "ftp://127.0.0.1"])
def test_public_base_url_must_be_https_outside_loopback(url):
    with pytest.raises(SettingsError, match="PUBLIC_BASE_URL"):
        webhook_urls(url)


def test_loopback_http_is_allowed_for_the_demo():
    assert webhook_urls("http://127.0.0.1:8000/") == ("http://127.0.0.1:8000/webhooks/graph",
                                                       "http://127.0.0.1:8000/webhooks/graph/lifecycle")


def test_readyz_reports_subscriptions_healthy_only_when_every_business_has_one(service, graph, control):
    from bookings_ledger.app import close_app, create_app

    businesses = control.seed(businesses=2)
    app = create_app({**service.settings, "BOOKING_BUSINESSES": ",".join(businesses)}, clock=service.ledger.clock)
    client = app.test_client()
    assert client.get("/readyz").get_json()["checks"]["subscriptions"] == "2 of 2 booking businesses have no live subscription"
    manager(service, graph, businesses).ensure_all()
    response = client.get("/readyz")
    assert response.status_code == 200 and response.get_json()["checks"]["subscriptions"] == "ok"
    close_app(app)


def test_a_notification_arriving_before_the_id_is_saved_is_checked_against_the_pending_secret(service):
    from state.subscription_lookup import SubscriptionLookup
    from state.subscriptions import save_pending

    keys = client_state_keys(service)
    with service.ledger.transaction() as tx:
        save_pending(tx.session, keys, business_id="b@contoso.com", resource="users/b@contoso.com/events",
                     client_state="s3cret", now=service.ledger.clock())
    found = SubscriptionLookup(service.ledger.engine, service.ledger.clock).find(["id-graph-just-gave"])
    pending = found["id-graph-just-gave"]
    assert keys.matches(pending.client_state_hash, pending.client_state_key_id, "s3cret")
    assert not keys.matches(pending.client_state_hash, pending.client_state_key_id, "s3cre")


def test_the_renewal_pass_learns_the_mailbox_id_of_a_row_stored_before_revision_0011(service, graph, control, emulator):
    businesses = control.seed()
    manager(service, graph, businesses).ensure_all()
    with service.ledger.engine.begin() as connection:
        connection.execute(text("UPDATE graph_subscriptions SET mailbox_user_id = NULL"))
    manager(service, graph, businesses).ensure_all()
    [row] = stored(service)
    assert row.mailbox_user_id == emulator.emulator.store.business(businesses[0]).mailbox_user_id
