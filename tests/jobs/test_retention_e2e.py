"""Retention end to end on a warped clock: the emulator over HTTP with businesses in four time zones,
ingestion by the scheduler's reconcile job, then Graph's (and so the service's) clock warped past
every due date: each record expires on its right local day, for every category and clock event,
across daylight-saving changes, never a minute early nor more than a minute late.

The expectations are computed here from Graph's own data (the emulator's state), on each
business's local calendar with the standard library, not read back from the service's tables.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from config import load_settings
from config.retention import load_policy
from config.settings import DEFAULT_RETENTION_POLICY
from connector.parse import iana_zone, parse_appointment, parse_customer
from ledger.core.canonical import parse_entry
from ledger.entries import stream_rows
from jobs.ingest import Ingestor
from jobs.scheduler import service_jobs
from bookings_ledger.wiring import schedule_from_settings, sync_services

# Mid-March 2025: the seeded appointments (90 days back, 30 ahead) and their periods cross Chicago's
# (9 Mar), London's (30 Mar) spring-forward and Sydney's fall-back (6 Apr); Tokyo has no DST.
START = datetime(2025, 3, 15, 12, 0, tzinfo=timezone.utc)
# category -> (days, clock): one category per clock event the policy knows for booking data.
PERIODS = {"booking.identity": (30, "appointment_end"), "booking.contact": (45, "last_contact"),
           "booking.notes": (20, "collected"), "booking.answers": (7, "cancellation"),
           "booking.details": (60, "appointment_end"), "account.preferences": (40, "last_contact")}
MINUTE = timedelta(minutes=1)
SLACK = timedelta(seconds=10)
Key = tuple[str, str, str]   # (object type, object id, category)


def write_policy(directory: Path) -> Path:
    text = DEFAULT_RETENTION_POLICY.read_text(encoding="utf-8").replace('policy_version = "2026-11-25.1"',
                                                                         'policy_version = "e2e.1"')
    blocks = text.split("\n[[category]]\n")
    for index, block in enumerate(blocks[1:], start=1):
        category = re.search(r'id = "([^"]+)"', block).group(1)
        if category in PERIODS:
            days, clock = PERIODS[category]
            block = re.sub(r'retention = "[^"]+"', f'retention = "P{days}D"', block)
            blocks[index] = re.sub(r'clock = "[^"]+"', f'clock = "{clock}"', block)
    path = directory / "retention-e2e.toml"
    path.write_text("\n[[category]]\n".join(blocks), encoding="utf-8")
    return path


def local_days_later(moment: datetime, days: int, zone: ZoneInfo) -> datetime:
    """The same local wall-clock time `days` local days after `moment`, as UTC."""
    local = moment.astimezone(zone)
    return datetime.combine(local.date() + timedelta(days=days), local.time(), tzinfo=zone).astimezone(timezone.utc)


class Expectations:
    """Key -> (earliest, latest) due instant: ingestion reads the clock somewhere in [before, after]."""

    def __init__(self) -> None:
        self.due: dict[Key, tuple[datetime, datetime]] = {}

    def add(self, key: Key, start: Callable[[datetime], datetime], days: int, zone: ZoneInfo,
            before: datetime, after: datetime) -> None:
        self.due[key] = (local_days_later(start(before), days, zone), local_days_later(start(after), days, zone))


def graph_records(control, business_ids: list[str]) -> tuple[dict[str, ZoneInfo], list, list]:
    """Each business's zone (from its mailbox settings), its appointments and customer records."""
    zones, appointments, customers = {}, [], []
    for business in control.state()["businesses"]:
        business_id = business["business"]["id"]
        if business_id in business_ids:
            zones[business_id] = ZoneInfo(iana_zone(business["mailboxSettings"]["timeZone"]))
            appointments += [parse_appointment(a, business_id) for a in business["appointments"]]
            customers += [parse_customer(c, business_id) for c in business["customers"]]
    return zones, appointments, customers


def collected_categories(ledger) -> dict[tuple[str, str], set[str]]:
    """(object type, id) -> the categories the ledger's collected and updated entries name for it:
    what the service holds (a list read omits notes, so not every appointment's notes are held)."""
    found: dict[tuple[str, str], set[str]] = {}
    with ledger.engine.connect() as connection:
        for _, body, _ in stream_rows(connection):
            entry = parse_entry(body)
            if entry["kind"] in ("collected", "updated"):
                for object_type, object_id in entry["refs"].items():
                    if object_type == "customer" and "appointment" in entry["refs"]:
                        continue   # an appointment's customer id, not the customer record
                    found.setdefault((object_type, object_id), set()).update(entry["classes"])
    return found


@pytest.mark.slow
def test_records_expire_on_their_local_day_for_every_clock_across_dst(service, control, graph, graph_clock, tmp_path):
    control.call("POST", "/clock", {"set": START.isoformat()})
    businesses = control.seed(businesses=4, appointments=8, customers=4)
    policy_file = write_policy(tmp_path)
    settings = load_settings({**service.settings, "BOOKING_BUSINESSES": ",".join(businesses),
                              "RETENTION_POLICY_FILE": str(policy_file)})
    policy = load_policy(policy_file)
    ingestor = Ingestor(service.ledger, policy, clock=graph_clock)
    services = sync_services(settings, service.ledger, graph, ingestor)
    jobs = service_jobs(services, lambda: {}, schedule_from_settings(settings))
    reconcile, _ = jobs["reconcile"]
    before = graph_clock()
    detail = reconcile()
    after = graph_clock()
    zones, appointments, customers = graph_records(control, businesses)
    assert {str(z) for z in zones.values()} == {"America/Chicago", "Europe/London", "Australia/Sydney", "Asia/Tokyo"}
    assert detail["zones"] == {b: str(zones[b]) for b in businesses}

    expected = Expectations()
    held = collected_categories(service.ledger)
    for appointment in appointments:
        zone = zones[appointment.business_id]
        present = held.get(("appointment", appointment.id), set())
        for category, (days, clock) in PERIODS.items():
            if category not in present:
                continue
            if clock == "appointment_end":
                expected.add(("appointment", appointment.id, category), lambda _, end=appointment.end: end, days, zone, before, after)
            elif clock == "last_contact":
                expected.add(("appointment", appointment.id, category),
                             lambda now, end=appointment.end: max(end, now), days, zone, before, after)
            elif clock == "collected":
                expected.add(("appointment", appointment.id, category), lambda now: now, days, zone, before, after)
    for customer in customers:
        for category in held.get(("customer", customer.id), set()):
            # A record has no appointment end: each of its clocks starts when it is first read.
            expected.add(("customer", customer.id, category), lambda now: now, PERIODS[category][0],
                         zones[customer.business_id], before, after)

    # Two future appointments are cancelled in Graph; the next sweep starts their cancellation clocks.
    control.advance(hours=30)
    cancelled = [a for a in appointments if a.start > graph_clock()][:2]
    with httpx.Client(base_url=service_graph_url(control), headers={"Authorization": "Bearer test"}) as http:
        for appointment in cancelled:
            http.post(f"/solutions/bookingBusinesses/{appointment.business_id}/appointments/{appointment.id}/cancel",
                      json={"cancellationMessage": "Closed."}).raise_for_status()
    before = graph_clock()
    reconcile()
    after = graph_clock()
    assert len(cancelled) == 2
    for appointment in cancelled:
        expected.add(("appointment", appointment.id, "booking.answers"), lambda now: now, PERIODS["booking.answers"][0],
                     zones[appointment.business_id], before, after)
    crossing = [k for k, (lo, _) in expected.due.items() if _offset_changed(k, lo, appointments, zones)]
    assert crossing, "no period crosses a DST change: the test would prove nothing about it"

    expired_at = warp_through(control, services, graph_clock(), expected)
    assert set(expired_at) >= set(expected.due)
    for key, (lo, hi) in expected.due.items():
        # What was overdue when it was read expires at the first run; Graph's clock runs on between a
        # warp and the evaluation, by milliseconds (SLACK).
        first = max(hi, after) + MINUTE + SLACK
        assert lo <= expired_at[key] <= first, f"{key}: due {lo}, expired {expired_at[key]}"
    answered = {k[1] for k in expired_at if k[2] == "booking.answers"}
    assert answered == {a.id for a in cancelled}, "answers expire only after a cancellation"


def service_graph_url(control) -> str:
    return control.server.graph_url


def _offset_changed(key: Key, due: datetime, appointments: list, zones: dict[str, ZoneInfo]) -> bool:
    appointment = next((a for a in appointments if a.id == key[1]), None)
    if appointment is None or key[2] not in ("booking.identity", "booking.details"):
        return False
    zone = zones[appointment.business_id]
    return appointment.end.astimezone(zone).utcoffset() != due.astimezone(zone).utcoffset()


def warp_through(control, services, now: datetime, expected: Expectations) -> dict[Key, datetime]:
    """Evaluate now, then warp to a minute before and a minute after every later due instant,
    evaluating at each; key -> when (the evaluation's time) it expired."""
    instants = sorted({t for lo, hi in expected.due.values() for t in (lo - MINUTE, hi + MINUTE) if t > now})
    expired_at: dict[Key, datetime] = {}
    seen: set[tuple[Key, str]] = set()
    for instant in [now, *instants]:
        control.call("POST", "/clock", {"set": instant.isoformat()})
        report = services.retention.evaluate()
        evaluated = datetime.fromisoformat(report.evaluated_at.replace("Z", "+00:00"))
        for expiry in report.expired:
            for category in expiry.categories:
                key = (expiry.object_type, expiry.object_id, category)
                assert (key, expiry.subject_ref) not in seen, f"{key} expired twice for one subject"
                seen.add((key, expiry.subject_ref))
                expired_at.setdefault(key, evaluated)
    return expired_at
