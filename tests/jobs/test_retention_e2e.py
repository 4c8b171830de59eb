"""Retention end to end on a warped clock: the emulator over HTTP with businesses in four time zones,
ingestion by the scheduler's reconcile job, then Graph's (and so the service's) clock warped past
every due date: each record expires on its right local day, for every category and clock event,
across daylight-saving changes, never a minute early nor more than a minute late. Then, with the
scheduler's anonymise job: nothing of the expired subjects is left on any surface of Graph.

The expectations are computed here from Graph's own data (the emulator's state), on each
business's local calendar with the standard library, not read back from the service's tables.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from config import load_settings
from config.retention import load_policy
from config.settings import DEFAULT_RETENTION_POLICY
from connector.parse import iana_zone, parse_appointment, parse_customer
from ledger.core.canonical import parse_entry
from ledger.entries import stream_rows
from ledger.integrity import verify_ledger
from state import anonymisation
from state.retention_dues import RetentionDue
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


def write_policy(directory: Path, periods: dict[str, tuple[int, str]] = PERIODS) -> Path:
    """The default policy under its own version, these categories given (days, clock)."""
    text = DEFAULT_RETENTION_POLICY.read_text(encoding="utf-8").replace('policy_version = "2026-11-25.1"',
                                                                         'policy_version = "e2e.1"')
    blocks = text.split("\n[[category]]\n")
    for index, block in enumerate(blocks[1:], start=1):
        category = re.search(r'id = "([^"]+)"', block).group(1)
        if category in periods:
            days, clock = periods[category]
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
    cancel(control, cancelled)
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



def fully_expired(ledger) -> set[str]:
    """The subjects every category of whose data on every record has expired."""
    with Session(ledger.engine) as session:
        rows = session.scalars(select(RetentionDue)).all()
    pending = {r.subject_ref for r in rows if r.expired_at is None}
    return {r.subject_ref for r in rows} - pending


def personal_values(ledger, subjects: set[str]) -> dict[str, set[str]]:
    """Subject -> its name, email and phone as the ledger holds them (a recorded view, for the test)."""
    with ledger.transaction() as tx:
        return {s: {v for k, v in tx.read_personal_data(s, viewer="retention-e2e", purpose="test").items()
                    if k in ("name", "email", "phone") and len(v) >= 5} for s in subjects}


def chain_entries(ledger, kind: str) -> list[dict]:
    with ledger.engine.connect() as connection:
        return [e for e in (parse_entry(body) for _, body, _ in stream_rows(connection)) if e["kind"] == kind]


def open_operations(ledger) -> list:
    with Session(ledger.engine) as session:
        return anonymisation.open_operations(session)


def mailbox_events(control, businesses: list[str]) -> list:
    """Every event of every business's scheduling mailbox, bodies included."""
    with httpx.Client(base_url=control.server.graph_url, headers={"Authorization": "Bearer test"}, timeout=30) as http:
        return [http.get(f"/users/{b}/events").json()["value"] for b in businesses]


def cancel(control, appointments: list) -> None:
    """Cancel these appointments in Graph, as the business would (Bookings mails their customers)."""
    with httpx.Client(base_url=control.server.graph_url, headers={"Authorization": "Bearer test"}, timeout=30) as http:
        for appointment in appointments:
            http.post(f"/solutions/bookingBusinesses/{appointment.business_id}/appointments/{appointment.id}/cancel",
                      json={"cancellationMessage": "Closed."}).raise_for_status()


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
        report = services.retention.evaluator.evaluate()
        evaluated = datetime.fromisoformat(report.evaluated_at.replace("Z", "+00:00"))
        for expiry in report.expired:
            for category in expiry.categories:
                key = (expiry.object_type, expiry.object_id, category)
                assert (key, expiry.subject_ref) not in seen, f"{key} expired twice for one subject"
                seen.add((key, expiry.subject_ref))
                expired_at.setdefault(key, evaluated)
    return expired_at


@pytest.fixture
def calendar_writes(control):
    """The app may write calendar copies (Calendars.ReadWrite) for one test; the emulator's options
    outlive its reset, so they are put back."""
    defaults = control.call("GET", "/options")["granted_permissions"]
    control.call("POST", "/options", {"granted_permissions": [*defaults, "Calendars.ReadWrite"]})
    yield
    control.call("POST", "/options", {"granted_permissions": defaults})


@pytest.mark.slow
@pytest.mark.usefixtures("calendar_writes")
def test_after_expiry_nothing_personal_is_left_in_graph_and_nobody_is_mailed(service, control, graph, graph_clock, tmp_path):
    """Every booking category expires (no cancellation clock), the scheduler's jobs run: no surface
    of Graph holds the subjects' data, no customer was mailed, the ledger cannot decrypt or find
    them, a replayed notification of every appointment brings no one back, and the chain verifies."""
    control.call("POST", "/clock", {"set": START.isoformat()})
    businesses = control.seed(businesses=3, appointments=6, customers=3)
    periods = {category: (days, "appointment_end" if clock == "cancellation" else clock) for category, (days, clock) in PERIODS.items()}
    policy_file = write_policy(tmp_path, periods)
    settings = load_settings({**service.settings, "BOOKING_BUSINESSES": ",".join(businesses),
                              "RETENTION_POLICY_FILE": str(policy_file)})
    ingestor = Ingestor(service.ledger, load_policy(policy_file), clock=graph_clock)
    services = sync_services(settings, service.ledger, graph, ingestor)
    jobs = service_jobs(services, lambda: {}, schedule_from_settings(settings))
    jobs["reconcile"][0]()
    _, appointments, _ = graph_records(control, businesses)
    mails_before = control.call("GET", "/mail")
    control.advance(hours=24 * 400)
    jobs["evaluate-retention"][0]()
    gone = fully_expired(service.ledger)
    assert gone, "no subject has every category expired"
    values = personal_values(service.ledger, gone)
    for _ in range(5):
        jobs["anonymise"][0]()
        if not open_operations(service.ledger):
            break
    assert open_operations(service.ledger) == []
    done = {e["surface"] for e in chain_entries(service.ledger, "anonymised")}
    assert {"appointment", "customer"} <= done, done
    surfaces = json.dumps(control.state()) + json.dumps(mailbox_events(control, businesses))
    for subject, found in values.items():
        for value in found:
            assert value not in surfaces, f"subject {subject}: a personal value is still in Graph"
    addresses = {v for found in values.values() for v in found if "@" in v}
    new_mail = [m for m in control.call("GET", "/mail") if m not in mails_before]
    assert not [m for m in new_mail if addresses & set(json.dumps(m).split('"'))], "a customer was mailed"
    with service.ledger.transaction() as tx:
        for address in addresses:
            assert tx.find_subjects(email=address) == []
        assert all(tx.subject(subject).status == "erased" for subject in gone)
    for appointment in appointments:     # a late notification of every appointment, as it was
        ingestor.ingest_appointment(appointment)
    with service.ledger.transaction() as tx:
        assert all(tx.find_subjects(email=address) == [] for address in addresses), "a replay brought someone back"
    assert verify_ledger(service.ledger.engine, verifier_key=None, origin=None, clock=graph_clock).ok
