"""Throttling storms and outages: Retry-After honoured, writes never duplicated, budgets respected."""
from __future__ import annotations

import time

import pytest

from connector import GraphConnector, OutcomeUnknown, RetryPolicy, Throttled, Unavailable

ITEM = "<business_id>/appointments/<appointment_id>"
CANCEL = ITEM + "/cancel"


def _first(graph: GraphConnector, business: str) -> str:
    return next(iter(graph.bookings.appointments(business))).id


def test_a_throttling_storm_is_waited_out_honouring_retry_after(graph: GraphConnector, control, business: str) -> None:
    appointment_id = _first(graph, business)
    control.faults({"status": 429, "route": "appointments/[^/]+$", "count": 3, "retry_after": 0.3})
    started = time.monotonic()
    assert graph.bookings.appointment(business, appointment_id).id == appointment_id
    elapsed = time.monotonic() - started
    assert control.count("GET", ITEM, 429) == 3 and control.count("GET", ITEM, 200) == 1
    assert 0.9 <= elapsed < 2.0  # three waits of 0.3 s plus at most 5 % jitter each


def test_whole_second_retry_after_is_honoured_too(make_connector, control, business: str) -> None:
    """Real Graph sends whole seconds; the emulator does too once the fractional quirk is off."""
    graph = make_connector()
    appointment_id = _first(graph, business)
    control.options(quirk_fractional_retry_after=False)
    control.faults({"status": 429, "route": "appointments/[^/]+$", "count": 1, "retry_after": 0.2})
    started = time.monotonic()
    graph.bookings.appointment(business, appointment_id)
    assert time.monotonic() - started >= 1.0


def test_a_storm_longer_than_the_budget_ends_in_throttled(make_connector, control, business: str) -> None:
    graph = make_connector(policy=RetryPolicy(max_total=1.0, jitter=0.0))
    appointment_id = _first(graph, business)
    control.faults({"status": 429, "route": "appointments/[^/]+$", "retry_after": 0.4})
    started = time.monotonic()
    with pytest.raises(Throttled) as raised:
        graph.bookings.appointment(business, appointment_id)
    assert time.monotonic() - started < 1.2
    assert raised.value.retry_after == pytest.approx(0.4) and raised.value.request_id
    assert control.count("GET", ITEM, 429) == 3  # at 0, 0.4 and 0.8 s; a fourth would pass 1.0 s


def test_a_throttled_cancel_is_retried_because_graph_refused_before_acting(graph: GraphConnector, control, business: str) -> None:
    appointment_id = _first(graph, business)
    control.faults({"status": 429, "route": "/cancel$", "count": 1, "retry_after": 0.2})
    graph.bookings.cancel_appointment(business, appointment_id, "Closed.")
    assert control.count("POST", CANCEL, 429) == 1 and control.count("POST", CANCEL, 204) == 1


@pytest.mark.parametrize("status", [503, 504])
def test_an_outage_on_reads_is_retried_until_graph_recovers(graph: GraphConnector, control, business: str, status: int) -> None:
    control.faults({"status": status, "route": "/appointments$", "count": 2, "retry_after": None})
    assert len(list(graph.bookings.appointments(business))) == 50
    assert control.count("GET", "<business_id>/appointments", status) == 2


def test_a_lasting_outage_gives_up_after_the_budget(make_connector, control, business: str) -> None:
    graph = make_connector(policy=RetryPolicy(max_total=0.6, backoff_base=0.1, backoff_max=0.2))
    control.faults({"status": 503, "route": "/appointments$", "retry_after": None})
    started = time.monotonic()
    with pytest.raises(Unavailable) as raised:
        list(graph.bookings.appointments(business))
    assert time.monotonic() - started < 1.0 and raised.value.status == 503
    assert 2 <= control.count("GET", "<business_id>/appointments", 503) <= 6


def test_a_504_on_cancel_is_outcome_unknown_and_never_resent(graph: GraphConnector, control, business: str) -> None:
    appointment_id = _first(graph, business)
    control.faults({"status": 504, "route": "/cancel$", "count": 1, "retry_after": None})
    with pytest.raises(OutcomeUnknown):
        graph.bookings.cancel_appointment(business, appointment_id, "Closed.")
    assert control.count("POST", CANCEL) == 1


def test_a_timed_out_cancel_is_outcome_unknown_although_graph_acted(make_connector, control, business: str) -> None:
    """The very reason not to re-send: the slow request did cancel (and email) the appointment."""
    graph = make_connector(timeout=0.3)
    appointment_id = _first(graph, business)
    control.faults({"status": 0, "route": "/cancel$", "latency_s": 0.8, "count": 1})
    with pytest.raises(OutcomeUnknown, match="ReadTimeout"):
        graph.bookings.cancel_appointment(business, appointment_id, "Closed.")
    time.sleep(0.7)
    assert control.count("POST", CANCEL) == 1
    assert appointment_id in str(control.business_state(business)["cancelledAppointments"])


def test_a_timed_out_read_is_retried(make_connector, control, business: str) -> None:
    graph = make_connector(timeout=0.3)
    appointment_id = _first(graph, business)
    control.faults({"status": 0, "route": "appointments/[^/]+$", "latency_s": 0.6, "count": 1})
    assert graph.bookings.appointment(business, appointment_id).id == appointment_id


def test_an_unreachable_graph_is_unavailable_after_the_budget(control) -> None:
    """Nothing listens on the port: connection refused is retried (nothing was sent), then raised."""
    from connector import StaticCredential

    dead = "http://127.0.0.1:9/v1.0"
    with GraphConnector(base_url=dead, credential=StaticCredential(),
                        policy=RetryPolicy(max_total=0.5, backoff_base=0.05, backoff_max=0.1)) as graph:
        with pytest.raises(Unavailable, match="ConnectError"):
            graph.bookings.business("clinic@contoso.com")
