"""Mailbox calendar delta rounds between sweeps: changes written, watermark minutes behind Graph,
one request per quiet round, 410 and unnamed removals fall back to a sweep. Emulator over HTTP,
on Graph's warpable clock."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy.orm import Session

from jobs import gaps
from jobs.scheduler import LeasedRunner, build_scheduler, service_jobs
from bookings_ledger.wiring import schedule_from_settings
from config import load_settings
from state.bookings_mirror import BookingAppointment
from state.delta_links import delta_position
from state.leases import last_runs
from state.watermarks import watermark_lags

from projection_check import customer_differences, projection_differences

DELTA_ROUTE = "GET /v1.0/users/<user>/calendarView/delta 200"


def graph_requests(control) -> dict[str, int]:
    """Graph requests since the counters were last zeroed, by route and status."""
    return {key: n for key, n in control.call("GET", "/requests").items() if " /v1.0/" in key}


def appointment_differences(ledger, control) -> list[str]:
    """How the ledger's appointments differ from Graph's (customer records are the sweeps' job)."""
    state = control.state()
    customers = set(customer_differences(ledger, state))
    return [p for p in projection_differences(ledger, state) if p not in customers]


class Bookings:
    """Changes made straight through Graph, with no subscription: only delta can see them."""

    def __init__(self, emulator, control, business: str) -> None:
        self.http = httpx.Client(base_url=emulator.graph_url + f"/solutions/bookingBusinesses/{business}",
                                 headers={"Authorization": "Bearer test"}, timeout=30)
        self.control, self.business = control, business

    def seeded(self) -> list[str]:
        state = next(b for b in self.control.state()["businesses"] if b["business"]["id"] == self.business)
        return [a["id"] for a in state["appointments"]]

    def book(self) -> str:
        service = self.http.get("/services").json()["value"][0]["id"]
        start = {"dateTime": "2030-06-03T10:00:00", "timeZone": "UTC"}
        end = {"dateTime": "2030-06-03T10:30:00", "timeZone": "UTC"}
        customer = {"@odata.type": "#microsoft.graph.bookingCustomerInformation", "name": "Ada Lovelace",
                    "emailAddress": "ada@example.com"}
        response = self.http.post("/appointments", json={"serviceId": service, "startDateTime": start,
                                                         "endDateTime": end, "customers": [customer]})
        response.raise_for_status()
        return response.json()["id"]

    def move(self, appointment_id: str, hours: int) -> None:
        current = self.http.get(f"/appointments/{appointment_id}").json()
        start = datetime.fromisoformat(current["startDateTime"]["dateTime"].rstrip("Z")[:26]) + timedelta(hours=hours)
        body = {"startDateTime": {"dateTime": start.isoformat(), "timeZone": "UTC"},
                "endDateTime": {"dateTime": (start + timedelta(minutes=30)).isoformat(), "timeZone": "UTC"}}
        self.http.patch(f"/appointments/{appointment_id}", json=body).raise_for_status()

    def delete(self, appointment_id: str) -> None:
        self.http.delete(f"/appointments/{appointment_id}").raise_for_status()


@pytest.fixture
def followed(make_services, control, service, emulator):
    """One seeded business whose calendar has been opened (link stored, first sweep done)."""
    business = control.seed(appointments=12)[0]
    services = make_services([business])
    opened = services.delta.follow(business)
    assert opened.outcome == "opened" and opened.outcomes["collected"] == 12 + 10   # appointments, customer records
    bookings = Bookings(emulator, control, business)
    yield services, business, bookings
    bookings.http.close()


def test_a_quiet_round_costs_one_request_and_moves_the_watermark_to_its_start(followed, control, service, graph_clock):
    """Nothing changed: one GET of the stored delta link, and the watermark is now the round's start."""
    services, business, _ = followed
    control.advance(seconds=600)
    assert watermark_lags(service.ledger.engine, graph_clock())[business] >= 600
    control.call("DELETE", "/requests")
    quiet = services.delta.follow(business)
    assert quiet.outcome == "quiet" and quiet.watermark_advanced
    assert graph_requests(control) == {DELTA_ROUTE: 1}
    assert watermark_lags(service.ledger.engine, graph_clock())[business] < 5


def test_changes_made_without_a_notification_are_written_by_the_next_round(followed, control, service):
    """A new booking and a reschedule reach the ledger through delta alone; the moved event is matched,
    so its later deletion is recorded without a sweep."""
    services, business, bookings = followed
    moved = bookings.seeded()[0]
    bookings.book()
    bookings.move(moved, 3)
    changes = services.delta.follow(business)
    assert changes.outcome == "changes" and changes.watermark_advanced
    assert changes.outcomes["collected"] == 1 and changes.outcomes["updated"] == 1
    assert appointment_differences(service.ledger, control) == []
    with Session(service.ledger.engine) as session:
        assert session.get(BookingAppointment, moved).event_id is not None
    bookings.delete(moved)
    gone = services.delta.follow(business)
    assert gone.outcome == "changes" and gone.outcomes["cancelled"] == 1 and gone.watermark_advanced
    assert appointment_differences(service.ledger, control) == []


def test_a_removed_event_no_appointment_is_known_for_falls_back_to_a_sweep(followed, control, service):
    """Graph gives only the id of a deleted event; never matched, it names no appointment: sweep."""
    services, business, bookings = followed
    bookings.delete(bookings.seeded()[5])
    result = services.delta.follow(business)
    assert result.outcome == "swept" and result.outcomes["cancelled"] == 1
    assert appointment_differences(service.ledger, control) == []


def test_an_expired_link_410_opens_a_new_one_and_sweeps(followed, control, service):
    """SyncStateNotFound: the link is replaced, the window swept, and the next round is quiet again."""
    services, business, bookings = followed
    before = delta_position(service.ledger.engine, business)
    control.call("POST", "/delta/expire")
    bookings.move(bookings.seeded()[2], 1)
    expired = services.delta.follow(business)
    assert expired.outcome == "expired" and expired.outcomes["updated"] == 1
    assert delta_position(service.ledger.engine, business).delta_link != before.delta_link
    assert services.delta.follow(business).outcome == "quiet"
    assert appointment_differences(service.ledger, control) == []


def test_a_failed_read_writes_nothing_keeps_the_link_and_the_next_round_catches_up(followed, control, service, graph_clock):
    """Bookings unavailable: the round fails, the watermark stays; once Graph is back the change is written."""
    services, business, bookings = followed
    bookings.move(bookings.seeded()[1], 2)
    before = delta_position(service.ledger.engine, business)
    control.call("POST", "/faults", {"requests": [{"status": 503, "share": 1.0, "count": 1000, "route": "bookingBusinesses", "retry_after": 0.05}]})
    control.advance(seconds=300)
    failed = services.delta.follow(business)
    control.call("DELETE", "/faults")
    assert failed.outcome == "failed" and failed.failures and not failed.watermark_advanced
    assert delta_position(service.ledger.engine, business) == before
    assert watermark_lags(service.ledger.engine, graph_clock())[business] >= 300
    retried = services.delta.follow(business)
    assert retried.outcome == "changes" and retried.outcomes["updated"] == 1 and retried.watermark_advanced
    assert appointment_differences(service.ledger, control) == []


def test_an_open_gap_holds_the_watermark_until_the_backfill_sweep(followed, control, service, graph_clock):
    """Delta never claims what only a sweep proves: with a gap open the watermark stays."""
    services, business, _ = followed
    now = graph_clock()
    gaps.record(service.ledger, business, reason="missed", start=now - timedelta(minutes=5), end=now)
    control.advance(seconds=240)
    assert not services.delta.follow(business).watermark_advanced
    services.reconciler.reconcile_business(business)   # the backfill sweep closes the gap
    control.advance(seconds=240)
    assert services.delta.follow(business).watermark_advanced


def test_the_scheduler_follows_every_business_on_the_delta_interval(make_services, control, service, graph_clock):
    """`follow-calendars` first runs one interval after start (the start-up sweep runs alone), then
    every DELTA_INTERVAL_MINUTES: it opens each link, then has only quiet rounds to run."""
    businesses = control.seed(businesses=2, appointments=3)
    services = make_services(businesses)
    jobs = service_jobs(services, lambda: {}, schedule_from_settings(load_settings({"DELTA_INTERVAL_MINUTES": "3"})))
    follow, interval = jobs["follow-calendars"]
    assert interval == timedelta(minutes=3) and "purge-working-state" in jobs
    first = build_scheduler(LeasedRunner(service.ledger.engine, graph_clock), jobs).get_job("follow-calendars")
    assert first.next_run_time > datetime.now().astimezone() + timedelta(minutes=2)
    runner = LeasedRunner(service.ledger.engine, graph_clock)
    for expected in ("opened", "quiet"):
        assert runner.run("follow-calendars", follow) == "ok"
        rounds = json.loads(last_runs(service.ledger.engine, "follow-calendars", 1)[0].detail)["rounds"]
        assert [r["outcome"] for r in rounds] == [expected, expected]
    assert all(delta_position(service.ledger.engine, b) for b in businesses)


def test_metrics_show_each_business_watermark_lag(followed, control, service):
    """`/metrics` has bl_sync_watermark_lag_seconds per business."""
    _, business, _ = followed
    control.advance(seconds=900)
    text = httpx.get(service.base_url + "/metrics").text
    line = next(line for line in text.splitlines() if line.startswith("bl_sync_watermark_lag_seconds{"))
    assert f'business="{business}"' in line and float(line.rsplit(" ", 1)[1]) >= 900
