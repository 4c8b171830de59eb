"""The sync facade from many threads, at most 4 requests in flight per mailbox, and a clean close."""
from __future__ import annotations

import gc
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest

from connector import GraphConnector
from connector.runner import LoopRunner

LATENCY = 0.25


def test_the_facade_serves_many_threads_over_one_loop(graph: GraphConnector, business: str) -> None:
    """40 calls from 8 threads share one client, one pool and one loop (no "Event loop is closed")."""
    ids = [a.id for a in graph.bookings.appointments(business)][:40]
    with ThreadPoolExecutor(8) as pool:
        found = list(pool.map(lambda i: graph.bookings.appointment(business, i).id, ids))
    assert found == ids


def test_no_more_than_four_requests_are_in_flight_per_mailbox(graph: GraphConnector, control) -> None:
    """12 slow reads of one business take 3 rounds of 4; another business runs alongside."""
    first, second = control.seed(businesses=2)
    control.faults({"status": 0, "route": "/bookingBusinesses/[^/]+$", "latency_s": LATENCY})
    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda b: graph.bookings.business(b), [first] * 12 + [second] * 4))
    elapsed = time.monotonic() - started
    assert graph.limiter.peak(first) == 4 and graph.limiter.peak(second) == 4
    assert 3 * LATENCY <= elapsed < 4 * LATENCY + 0.5
    assert control.count("GET", "<business_id>", 200) == 16


def test_a_batch_holds_as_many_mailbox_slots_as_it_has_requests_up_to_four(graph: GraphConnector, control, business: str) -> None:
    ids = [a.id for a in graph.bookings.appointments(business)][:40]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda chunk: list(graph.bookings.appointments_by_ids(business, chunk)), [ids[:20], ids[20:]]))
    assert graph.limiter.peak(business) == 4


def test_close_really_closes_the_pool_and_the_loop(make_connector, business: str) -> None:
    """No ResourceWarning (warnings are errors here), no connection left, calls refused after."""
    graph = make_connector()
    graph.bookings.business(business)
    pool = graph._client.http._transport.transport._pool  # httpx's connection pool under msgraph's transport
    assert pool.connections
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        graph.close()
        graph.close()
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert pool.connections == [] and graph.closed
    assert not [t for t in threading.enumerate() if t.name == "graph-loop" and t.is_alive()]
    with pytest.raises(RuntimeError, match="closed"):
        graph.bookings.business(business)


def test_a_call_from_the_loop_thread_itself_is_refused_rather_than_deadlocking() -> None:
    runner = LoopRunner(name="graph-loop-test")

    async def reenter() -> None:
        async def nothing() -> None:
            return None
        runner.call(nothing())

    with pytest.raises(RuntimeError, match="deadlock"):
        runner.call(reenter())
    runner.close()


def test_an_apscheduler_job_calls_the_facade_from_its_worker_thread(graph: GraphConnector, business: str) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    done, seen = threading.Event(), []

    def job() -> None:
        seen.append(graph.bookings.business(business).id)
        if len(seen) == 3:
            done.set()

    scheduler = BackgroundScheduler()
    scheduler.add_job(job, "interval", seconds=0.05, max_instances=1)
    scheduler.start()
    try:
        assert done.wait(5)
    finally:
        scheduler.shutdown(wait=True)
    assert seen[:3] == [business] * 3
