"""$batch against the emulator: 20 to an envelope, answers matched by id, failed items retried alone."""
from __future__ import annotations

import time

from connector import AppointmentUpdate, GraphConnector, InvalidRequest, NotFound
from connector.batch import BatchRequest

ITEM = "<business_id>/appointments/<appointment_id>"


def _ids(graph: GraphConnector, business: str, n: int) -> list[str]:
    return [a.id for a in graph.bookings.appointments(business)][:n]


def test_reads_go_twenty_to_an_envelope_and_come_back_matched_by_id(graph: GraphConnector, control, business: str) -> None:
    """The emulator shuffles batch answers, as Graph may; each result still belongs to its id."""
    ids = _ids(graph, business, 45)
    control.reset_counts()
    results = list(graph.bookings.appointments_by_ids(business, [*ids, ids[0], "AAMk-missing"]))
    assert [r.id for r in results] == [*ids, "AAMk-missing"]
    assert all(r.ok and r.value.id == r.id and r.value.customers for r in results[:-1])
    assert isinstance(results[-1].error, NotFound)
    assert control.count("POST", "$batch") == 3


def test_a_throttled_item_is_retried_alone_after_its_retry_after(graph: GraphConnector, control, business: str) -> None:
    ids = _ids(graph, business, 20)
    control.reset_counts()
    control.faults({"status": 429, "route": f"appointments/{ids[7]}$", "count": 2, "retry_after": 0.3})
    started = time.monotonic()
    results = list(graph.bookings.appointments_by_ids(business, ids))
    elapsed = time.monotonic() - started
    assert all(r.ok for r in results)
    assert control.count("POST", "$batch") == 3  # the full batch, then the one item twice
    assert control.count("GET", ITEM, 200) == 20  # nothing that succeeded was fetched again
    assert control.count("GET", ITEM, 429) == 2
    assert elapsed >= 0.6  # two Retry-After waits of 0.3 s


def test_a_dependency_chain_is_sent_with_depends_on_and_retried_together(graph: GraphConnector, control, business: str) -> None:
    """A 429 on the first request makes Graph answer 424 for its dependant; both go again."""
    first, second = _ids(graph, business, 2)
    path = f"/solutions/bookingBusinesses/{business}/appointments"
    control.faults({"status": 429, "route": f"appointments/{first}$", "method": "GET", "count": 1, "retry_after": 0.2})
    requests = [BatchRequest(id="read", method="GET", url=f"{path}/{first}"),
                BatchRequest(id="drop", method="DELETE", url=f"{path}/{second}", depends_on=("read",))]
    answers = {a.id: a for a in graph.session.batch(requests, mailbox=business)}
    assert (answers["read"].status, answers["drop"].status) == (200, 204)
    assert control.count("DELETE", ITEM, 204) == 1
    assert control.count("POST", "$batch") == 2


def test_a_failed_dependency_is_final_and_not_retried(graph: GraphConnector, control, business: str) -> None:
    (victim,) = _ids(graph, business, 1)
    path = f"/solutions/bookingBusinesses/{business}/appointments"
    requests = [BatchRequest(id="read", method="GET", url=f"{path}/AAMk-missing"),
                BatchRequest(id="drop", method="DELETE", url=f"{path}/{victim}", depends_on=("read",))]
    answers = {a.id: a for a in graph.session.batch(requests, mailbox=business)}
    assert isinstance(answers["read"].error, NotFound)
    assert isinstance(answers["drop"].error, InvalidRequest) and answers["drop"].status == 424
    assert control.count("POST", "$batch") == 1


def test_batched_deletes_and_patches_reach_graph(graph: GraphConnector, control, business: str) -> None:
    ids = _ids(graph, business, 30)
    deleted = list(graph.bookings.delete_appointments(business, ids[:25]))
    assert [r.id for r in deleted] == ids[:25] and all(r.ok for r in deleted)
    patched = list(graph.bookings.update_appointments(business, {i: AppointmentUpdate(service_notes="") for i in ids[25:]}))
    assert all(r.ok for r in patched)
    stored = {a["id"]: a for a in control.business_state(business)["appointments"]}
    assert not set(ids[:25]) & stored.keys()
    assert all(stored[i]["serviceNotes"] == "" for i in ids[25:])
    assert control.count("POST", "$batch") == 3
