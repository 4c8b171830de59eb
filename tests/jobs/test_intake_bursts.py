"""A leaked clientState is no lever: bursts through the real receiver and worker cost Graph a bounded number of calls.

Each test posts what an attacker holding one subscription's clientState could post (valid secret,
made-up contents), lets the real worker process the inbox, and counts the Graph requests in the
emulator's request log, on SQLite and on PostgreSQL.
"""
from __future__ import annotations

import secrets
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bookings_ledger.wiring import Process, build_worker
from jobs.lifecycle import REAUTHORIZATION, SWEEP
from jobs.reread import EVENT_READS_PER_CYCLE, HORIZON_READ
from ledger.core.canonical import parse_entry
from ledger.entries import stream_rows
from state.inbox import InboxRow

BURST = 1000
DAYS = 62   # a short horizon keeps each sweep small; the bound does not depend on it


@pytest.fixture
def tenant(make_services, control, service, graph, ingestor) -> dict[str, Any]:
    """One seeded business, subscribed, and a worker wired as `bookings-ledger worker` wires it."""
    business = control.seed(appointments=8, customers=4)[0]
    services = make_services([business], RECONCILE_DAYS_BACK=str(DAYS), RECONCILE_DAYS_AHEAD=str(DAYS))
    services.subscriptions.ensure_all()
    services.reconciler.reconcile_business(business)   # the ledger matches Graph before the attack
    (live,) = control.live_subscriptions()
    process = Process(service.ledger, ingestor, graph)
    return {"business": business, "services": services, "process": process, "subscription": live,
            "tenant_id": control.state()["tenantId"]}


def new_worker(tenant: dict[str, Any]):
    """A worker process as the command builds it (a fresh one stands for a restart or a second worker)."""
    return build_worker(tenant["process"], tenant["services"])


def post(service, path: str, items: list[dict[str, Any]]) -> None:
    with httpx.Client(base_url=service.base_url, timeout=60) as http:
        for first in range(0, len(items), 1000):
            http.post(path, json={"value": items[first:first + 1000]}).raise_for_status()


def lifecycle_items(tenant: dict[str, Any], event: str, count: int) -> list[dict[str, Any]]:
    """`count` items for the tenant's subscription, each with its own expiry so none is a duplicate."""
    sub, start = tenant["subscription"], datetime(2030, 1, 1, tzinfo=timezone.utc)
    return [{"subscriptionId": sub["id"], "clientState": sub["clientState"], "tenantId": tenant["tenant_id"],
             "lifecycleEvent": event, "subscriptionExpirationDateTime": (start + timedelta(seconds=i)).isoformat()}
            for i in range(count)]


def graph_calls(control, *fragments: str) -> int:
    """Graph requests (not the control API) whose "METHOD route status" key holds every fragment."""
    counts = control.call("GET", "/requests")
    return sum(n for key, n in counts.items() if " /v1.0/" in key and all(f in key for f in fragments))


def settle(*workers) -> None:
    """Run the workers' cycles until none claims anything (deferred rows are not due yet)."""
    while sum(worker.run_once() for worker in workers):
        pass


def pending_rows(service) -> int:
    with Session(service.ledger.engine) as session:
        return session.scalar(select(func.count()).select_from(InboxRow).where(InboxRow.state != "done"))


def test_a_burst_of_reauthorization_required_makes_one_graph_call_per_window(tenant, service, control):
    """1,000 reauthorizationRequired items: one reauthorize; a restarted worker's burst in the same
    window waits and costs nothing; after the window one more call answers every row."""
    control.call("DELETE", "/requests")
    post(service, "/webhooks/graph/lifecycle", lifecycle_items(tenant, "reauthorizationRequired", BURST))
    settle(new_worker(tenant))
    assert graph_calls(control, "reauthorize") == 1
    assert graph_calls(control) == 1 and pending_rows(service) == 0

    control.advance(seconds=30)   # still inside the window; a restart keeps the decision
    post(service, "/webhooks/graph/lifecycle", lifecycle_items(tenant, "reauthorizationRequired", BURST)[::-1][:50])
    later = lifecycle_items(tenant, "reauthorizationRequired", BURST + 200)[BURST:]
    post(service, "/webhooks/graph/lifecycle", later)
    settle(new_worker(tenant))
    assert graph_calls(control) == 1 and pending_rows(service) == len(later)

    control.advance(seconds=REAUTHORIZATION.quiet.total_seconds())
    settle(new_worker(tenant))
    assert graph_calls(control, "reauthorize") == 2
    assert graph_calls(control) == 2 and pending_rows(service) == 0


def test_two_workers_share_one_reauthorization(tenant, service, control):
    """Two workers at once on PostgreSQL (one after the other on SQLite) still make one call."""
    control.call("DELETE", "/requests")
    post(service, "/webhooks/graph/lifecycle", lifecycle_items(tenant, "reauthorizationRequired", BURST))
    workers = [new_worker(tenant), new_worker(tenant)]
    for worker in workers:
        worker.batch_size = 100
    if service.ledger.engine.dialect.name == "postgresql":
        threads = [threading.Thread(target=settle, args=(worker,)) for worker in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    else:
        settle(*workers)
    assert graph_calls(control) == 1 and graph_calls(control, "reauthorize") == 1
    control.advance(seconds=REAUTHORIZATION.quiet.total_seconds())
    settle(*workers)
    assert pending_rows(service) == 0 and graph_calls(control) == 1


def test_a_burst_of_missed_costs_one_sweep(tenant, service, control):
    """1,000 `missed` deliveries (each its own row): one gap, one sweep; the rest are covered by it."""
    control.call("DELETE", "/requests")
    items = lifecycle_items(tenant, "missed", 1)
    with httpx.Client(base_url=service.base_url, timeout=60) as http:
        for _ in range(BURST):   # one POST each: every `missed` delivery is kept as its own row
            http.post("/webhooks/graph/lifecycle", json={"value": items}).raise_for_status()
    with Session(service.ledger.engine) as session:
        assert session.scalar(select(func.count()).select_from(InboxRow)) == BURST
    settle(new_worker(tenant))
    assert graph_calls(control, "customers") == 1   # a sweep reads the customers list once
    windows = len(tenant["services"].reconciler.horizon.windows(service.ledger.clock()))
    assert graph_calls(control, "calendarView") <= windows + 1
    assert pending_rows(service) == 0
    gaps = [e for e in _entries(service) if e["kind"] == "sync-gap"]
    assert len(gaps) == 1


def test_missed_during_the_cool_down_waits_for_it_then_sweeps_once(tenant, service, control):
    services, worker = tenant["services"], new_worker(tenant)
    post(service, "/webhooks/graph/lifecycle", lifecycle_items(tenant, "missed", 1))
    settle(worker)
    control.call("DELETE", "/requests")
    with httpx.Client(base_url=service.base_url, timeout=60) as http:
        for _ in range(20):
            http.post("/webhooks/graph/lifecycle", json={"value": lifecycle_items(tenant, "missed", 1)}).raise_for_status()
    settle(worker)
    assert graph_calls(control) == 0 and pending_rows(service) == 20
    control.advance(seconds=SWEEP.quiet.total_seconds() + 1)
    settle(worker)
    assert graph_calls(control, "customers") == 1 and pending_rows(service) == 0
    assert services.subscriptions.active()[0].subscription_id == tenant["subscription"]["id"]


def test_a_forged_subscription_removed_leaves_exactly_one_live_subscription(tenant, service, control):
    """The subscription is alive at Graph; 1,000 forged removals replace it once and delete the old one."""
    old = tenant["subscription"]["id"]
    control.call("DELETE", "/requests")
    post(service, "/webhooks/graph/lifecycle", lifecycle_items(tenant, "subscriptionRemoved", BURST))
    settle(new_worker(tenant))
    live = control.live_subscriptions()
    assert len(live) == 1 and live[0]["id"] != old
    assert [s.subscription_id for s in tenant["services"].subscriptions.active()] == [live[0]["id"]]
    assert graph_calls(control, "POST", "/subscriptions ") == 1
    assert graph_calls(control, "DELETE", "subscriptions") == 1
    assert graph_calls(control, "customers") == 1   # one back-fill sweep
    assert pending_rows(service) == 0


def test_a_failed_delete_at_graph_is_resumed_by_the_rows_retry(tenant, service, control):
    """Graph fails the DELETE: the old row stays retiring; the retry deletes it without a second successor."""
    old = tenant["subscription"]["id"]
    control.call("POST", "/faults", {"requests": [{"status": 503, "method": "DELETE", "route": "subscriptions",
                                                   "retry_after": None}]})
    post(service, "/webhooks/graph/lifecycle", lifecycle_items(tenant, "subscriptionRemoved", 1))
    worker = new_worker(tenant)
    settle(worker)
    assert len(control.live_subscriptions()) == 2 and pending_rows(service) == 1
    control.call("DELETE", "/faults")
    control.advance(seconds=10)   # past the row's first backoff
    settle(worker)
    live = control.live_subscriptions()
    assert len(live) == 1 and live[0]["id"] != old and pending_rows(service) == 0
    assert [e["kind"] for e in _entries(service)].count("sync-gap") == 1


def test_a_thousand_random_event_ids_cost_one_horizon_read(tenant, service, control):
    """1,000 change items for made-up events: one probe of 20 and the horizon's calendarView windows, no entry."""
    business, sub = tenant["business"], tenant["subscription"]
    items = [{"subscriptionId": sub["id"], "clientState": sub["clientState"], "tenantId": tenant["tenant_id"],
              "changeType": "updated", "resource": f"Users/{business}/Events/{event_id}",
              "resourceData": {"id": event_id, "@odata.etag": f'W/"{event_id}"'}}
             for event_id in (secrets.token_urlsafe(32) for _ in range(BURST))]
    before = len(_entries(service))
    control.call("DELETE", "/requests")
    post(service, "/webhooks/graph", items)
    worker = new_worker(tenant)
    worker.batch_size = 400   # three cycles: the later ones are settled by the first one's read
    settle(worker)
    windows = len(tenant["services"].reconciler.horizon.windows(service.ledger.clock()))
    assert graph_calls(control, "events") == EVENT_READS_PER_CYCLE   # the probe, all 404
    assert graph_calls(control, "calendarView") <= windows + 1
    assert graph_calls(control) <= EVENT_READS_PER_CYCLE + windows + 1 + 3   # $batch envelopes included
    assert pending_rows(service) == 0 and len(_entries(service)) == before

    control.call("DELETE", "/requests")   # a second flood inside the cool-down waits for it
    post(service, "/webhooks/graph", [{**item, "resourceData": {**item["resourceData"], "@odata.etag": "W/\"2\""}}
                                      for item in items[:EVENT_READS_PER_CYCLE + 1]])
    settle(worker)
    assert graph_calls(control) == 0 and pending_rows(service) == EVENT_READS_PER_CYCLE + 1
    control.advance(seconds=HORIZON_READ.quiet.total_seconds() + 1)
    settle(worker)
    assert graph_calls(control, "events") == EVENT_READS_PER_CYCLE and graph_calls(control, "calendarView") <= windows + 1
    assert pending_rows(service) == 0


def test_a_backlog_of_real_new_bookings_is_read_by_id_without_waiting(tenant, service, control):
    """More new bookings than one $batch in a cycle (a worker restart's backlog): the probe finds
    them real, so they are read and collected at once, with no horizon read and nothing deferred."""
    from ingestion_pipeline import Pipeline

    pipeline = Pipeline(new_worker(tenant), control, tenant["business"], control.server.graph_url)
    start = service.ledger.clock().replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
    booked = [pipeline.book(start + timedelta(hours=i)) for i in range(EVENT_READS_PER_CYCLE + 10)]
    control.call("DELETE", "/requests")
    pipeline.settle()
    assert pending_rows(service) == 0
    assert {e["refs"].get("appointment") for e in _entries(service) if e["kind"] == "collected"} >= set(booked)
    assert graph_calls(control, "events") == len(booked)   # each read by id: no horizon read, no wait


def _entries(service) -> list[dict[str, Any]]:
    with service.ledger.engine.connect() as connection:
        return [parse_entry(body) for _, body, _ in stream_rows(connection)]
