"""Chaos: 10,000 booking changes through dropped, duplicated and reordered notifications and a
throttled, failing Graph; after the run and one reconcile the ledger equals Graph exactly."""
from __future__ import annotations

import os
import threading
import time
from functools import partial

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from database.times import format_time
from jobs.lifecycle import handle
from jobs.worker import Worker
from state.inbox import InboxRow
from ledger.integrity import verify_ledger

from projection_check import projection_differences

# `make soak` runs the same test longer: SOAK_CHANGES=100000. The short form keeps `make test`
# inside its budget on two cores; the faults are the same whatever the size.
CHANGES = int(os.environ.get("SOAK_CHANGES", "3000"))
FAULTS = {
    "notifications": {"drop": 0.10, "duplicate": 0.10, "reorder": 0.10},
    "requests": [{"status": 429, "share": 0.05, "retry_after": 0.05}, {"status": 503, "share": 0.02, "retry_after": 0.05}],
}


STALL = 90.0   # seconds without progress before the drain gives up: longer than a row's 4th backoff (40 s)


def progress(service, control) -> tuple[int, int, int]:
    """(rows done, rows pending and due, notifications Graph still has to deliver).

    A row deferred to a later turn (a `missed` waiting out the sweep cool-down, docs/ingestion.md
    "Bursts") is not due: the reconcile after the drain is the sweep that covers it."""
    now = format_time(service.ledger.clock())
    with Session(service.ledger.engine) as session:
        counts = dict(session.execute(select(InboxRow.state, func.count()).where(
            (InboxRow.state != "pending") | (InboxRow.not_before <= now)).group_by(InboxRow.state)).all())
    return counts.get("done", 0), counts.get("pending", 0), control.call("GET", "/notifications")["pending"]


def drain(worker: Worker, service, control) -> None:
    """Run the worker until Graph has nothing left to deliver and the inbox nothing left to do.

    No wall-clock guess at the total: it fails only when neither the done count grows nor Graph's
    delivery queue shrinks for STALL seconds (pytest's timeout caps the whole test)."""
    last, moved = progress(service, control), time.monotonic()
    while True:
        claimed = worker.run_once()
        done, pending, delivering = now = progress(service, control)
        if not claimed and not pending and not delivering:
            return
        if done > last[0] or delivering < last[2]:
            last, moved = now, time.monotonic()
        elif time.monotonic() - moved > STALL:
            raise AssertionError(f"the inbox stopped draining: {pending} rows pending, {delivering} undelivered")
        if not claimed:
            time.sleep(0.1)


@pytest.mark.slow
def test_chaos_run_then_one_reconcile_leaves_the_ledger_equal_to_graph(make_services, control, service, graph, ingestor):
    businesses = control.seed(businesses=3, appointments=30, customers=10)
    services = make_services(businesses)
    services.subscriptions.ensure_all()
    services.reconciler.reconcile_all(businesses)
    worker = Worker(service.ledger, ingestor, graph, clock=service.ledger.clock,
                    lifecycle=partial(handle, services=services.lifecycle))
    control.call("POST", "/faults", FAULTS)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), kwargs={"interval": 0.05}, daemon=True)
    thread.start()
    control.call("POST", "/traffic", {"rate": 2000, "count": CHANGES, "seed": 21})
    while control.call("GET", "/traffic")["running"]:
        time.sleep(0.2)
    control.lifecycle(services.subscriptions.active()[0].subscription_id, "missed")
    stop.set()
    thread.join()
    drain(worker, service, control)
    services.reconciler.reconcile_all(businesses)
    state = control.state()
    assert sum(control.call("GET", "/traffic")["done"].values()) > 0
    assert projection_differences(service.ledger, state) == []
    result = verify_ledger(service.ledger.engine, verifier_key=None, origin=None, clock=service.ledger.clock)
    assert result.ok
    with Session(service.ledger.engine) as session:
        assert session.scalar(select(func.count()).select_from(InboxRow).where(InboxRow.state == "parked")) == 0
