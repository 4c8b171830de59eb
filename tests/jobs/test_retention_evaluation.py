"""Retention evaluation on its own: local days across DST, holds, policy versions, repeats, cost."""
from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from config.retention import RetentionPolicy, load_policy, period_ends
from config.settings import DEFAULT_RETENTION_POLICY
from connector.parse import iana_zone
from database.times import format_time
from jobs.erasure import erase_working_state
from jobs.holds_scope import subject_scope
from jobs.ingest import Ingestor
from jobs.retention import PolicyVersionSuperseded, PolicyVersionUnchanged, RetentionEvaluator, status
from ledger.core.canonical import parse_entry
from ledger.encryption import MasterKeys
from ledger.entries import stream_rows
from ledger.holds import place_hold, release_hold
from ledger.keystore import open_keystore
from ledger.transactions import Ledger, LedgerKeys
from state import business_time_zones, retention_dues
from state.anonymisation import operations_for_subject
from test_ingest import ADA, booking

LONDON = "clinic@contoso.com"
POLICY = load_policy(DEFAULT_RETENTION_POLICY)


def with_periods(policy: RetentionPolicy, version: str, **changes: tuple[str, str]) -> RetentionPolicy:
    """The policy under another version, some categories (id with `_` for `.`) given (period, clock)."""
    wanted = {key.replace("_", ".", 1): value for key, value in changes.items()}
    categories = tuple(c.model_copy(update={"retention": wanted[c.id][0], "clock": wanted[c.id][1]}) if c.id in wanted else c
                       for c in policy.category)
    return policy.model_copy(update={"policy_version": version, "category": categories})


@pytest.fixture
def ledger(db, keystore_url, clock) -> Iterator[Ledger]:
    keys = LedgerKeys(MasterKeys(os.urandom(32)), os.urandom(32), "GB")
    keystore = open_keystore(keystore_url, keys.master, clock=clock)
    yield Ledger(db, keys, clock, keystore=keystore, working_state_eraser=erase_working_state, hold_scope=subject_scope)
    keystore.close()


def set_zone(ledger: Ledger, business: str, zone: str) -> None:
    with Session(ledger.engine) as session, session.begin():
        business_time_zones.store_zone(session, business, zone, zone, ledger.clock())


def entries(ledger: Ledger, kind: str) -> list[dict]:
    with ledger.engine.connect() as connection:
        return [e for e in (parse_entry(body) for _, body, _ in stream_rows(connection)) if e["kind"] == kind]


def pending(ledger: Ledger) -> dict[str, str]:
    with Session(ledger.engine) as session:
        return {row.category: row.due_at for row in retention_dues.pending_before(session, "9999")}


# (zone, start in local wall-clock time): each 30-day period crosses one DST change of the zone
# (Sydney's April change sets clocks back, its October one forward; Kolkata has none).
CROSSINGS = [
    ("Europe/London", datetime(2025, 3, 20, 10, 0)), ("Europe/London", datetime(2025, 10, 10, 10, 0)),
    ("America/New_York", datetime(2025, 2, 20, 10, 0)), ("America/New_York", datetime(2025, 10, 20, 10, 0)),
    ("Australia/Sydney", datetime(2025, 3, 20, 10, 0)), ("Australia/Sydney", datetime(2025, 9, 20, 10, 0)),
    ("Asia/Kolkata", datetime(2025, 3, 20, 10, 0)), ("Asia/Kolkata", datetime(2025, 10, 10, 10, 0)),
]


@pytest.mark.parametrize(("zone", "local_start"), CROSSINGS)
def test_thirty_days_end_at_the_same_local_time_thirty_local_days_later(zone, local_start):
    start = local_start.replace(tzinfo=ZoneInfo(zone))
    end = period_ends("P30D", start.astimezone(timezone.utc), ZoneInfo(zone))
    local_end = end.astimezone(ZoneInfo(zone))
    assert (local_end.date() - local_start.date()).days == 30
    assert (local_end.hour, local_end.minute) == (10, 0)
    shift = start.utcoffset() - local_end.utcoffset()
    assert end - start.astimezone(timezone.utc) == timedelta(days=30) + shift
    assert (shift == timedelta(0)) == (zone == "Asia/Kolkata")


def test_a_wall_clock_time_a_dst_change_skips_or_repeats_ends_at_its_later_instant():
    london = ZoneInfo("Europe/London")
    skipped = period_ends("P30D", datetime(2025, 2, 28, 1, 30, tzinfo=timezone.utc), london)   # 30 Mar 01:30 does not exist
    assert skipped == datetime(2025, 3, 30, 1, 30, tzinfo=timezone.utc)                       # = 02:30 BST
    repeated = period_ends("P30D", datetime(2025, 9, 26, 0, 30, tzinfo=timezone.utc), london)  # 26 Oct 01:30 happens twice
    assert repeated == datetime(2025, 10, 26, 1, 30, tzinfo=timezone.utc)                      # the GMT one, an hour later
    assert period_ends("PT2M", datetime(2025, 3, 30, 0, 59, tzinfo=timezone.utc), london) == \
        datetime(2025, 3, 30, 1, 1, tzinfo=timezone.utc)                                        # minutes are elapsed time


@pytest.mark.parametrize(("graph_name", "iana"), [
    ("W. Europe Standard Time", "Europe/Berlin"), ("GMT Standard Time", "Europe/London"),
    ("Eastern Standard Time", "America/New_York"), ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("India Standard Time", "Asia/Calcutta"),   # CLDR's name; zoneinfo knows it as Kolkata's alias ("Asia/Tokyo", "Asia/Tokyo"), ("UTC", "UTC"), ("Nowhere Time", None),
])
def test_mailbox_zone_names_map_to_iana(graph_name, iana):
    assert iana_zone(graph_name) == iana


def test_data_expires_on_its_local_day_once_and_its_anonymisation_is_planned(ledger, clock):
    """Notes: 90 days after the appointment ends, on London's calendar (the period crosses BST)."""
    set_zone(ledger, LONDON, "Europe/London")
    ingestor = Ingestor(ledger, POLICY, clock=clock)
    ingestor.ingest_appointment(booking())       # ends 1 Mar 2024 10:30 UTC (GMT)
    due = pending(ledger)["booking.notes"]
    assert due == "2024-05-30T09:30:00.000000Z"  # 30 May 10:30 BST
    evaluator = RetentionEvaluator(ledger, POLICY, clock, None)
    clock.now = datetime(2024, 5, 30, 9, 29, tzinfo=timezone.utc)
    assert evaluator.evaluate().expired == []
    clock.advance(minutes=2)
    report = evaluator.evaluate()
    (expiry,) = report.expired
    assert expiry.categories == ("booking.answers", "booking.notes") and expiry.object_id == "a-1"
    (entry,) = entries(ledger, "retention-expired")
    assert entry["categories"] == ["booking.answers", "booking.notes"] and entry["refs"] == {"appointment": "a-1"}
    assert entry["policy_version"] == POLICY.policy_version
    with Session(ledger.engine) as session:
        (operation,) = operations_for_subject(session, expiry.subject_ref)
    assert operation.cause == "retention" and set(operation.categories) == {"booking.answers", "booking.notes"}
    assert evaluator.evaluate().expired == [] and len(entries(ledger, "retention-expired")) == 1


def test_a_held_record_stays_due_and_expires_after_release(ledger, clock):
    set_zone(ledger, LONDON, "UTC")
    Ingestor(ledger, POLICY, clock=clock).ingest_appointment(booking())
    with ledger.transaction() as tx:
        hold = place_hold(tx, "appointment", "a-1", reason="Case 7", placed_by="officer", ends_at=None)
    evaluator = RetentionEvaluator(ledger, POLICY, clock, None)
    clock.now = datetime(2024, 7, 1, tzinfo=timezone.utc)
    report = evaluator.evaluate()
    assert report.expired == [] and report.held[0].holds == (hold.id,)
    assert entries(ledger, "retention-expired") == []
    with ledger.transaction() as tx:
        release_hold(tx, hold.id, reason="Case closed", released_by="officer")
    clock.advance(days=1)
    assert [e.categories for e in evaluator.evaluate().expired] == [("booking.answers", "booking.notes")]


def test_a_business_hold_covers_its_customer_records_too(ledger, clock):
    from connector.models import Customer

    set_zone(ledger, LONDON, "UTC")
    Ingestor(ledger, POLICY, clock=clock).ingest_customer(Customer(id="c-1", business_id=LONDON, display_name="Ada",
                                                                   email="ada@example.com"))
    with ledger.transaction() as tx:
        place_hold(tx, "business", LONDON, reason="Audit", placed_by="officer", ends_at=None)
    clock.advance(days=400)
    report = RetentionEvaluator(ledger, POLICY, clock, None).evaluate()
    assert report.expired == [] and {e.object_type for e in report.held} == {"customer"}


def test_a_stricter_policy_redates_held_data_and_a_longer_one_only_new_data(ledger, clock):
    set_zone(ledger, LONDON, "UTC")
    ingestor = Ingestor(ledger, POLICY, clock=clock)
    ingestor.ingest_appointment(booking())
    RetentionEvaluator(ledger, POLICY, clock, None).evaluate()          # records the first version
    stricter = with_periods(POLICY, "2026-12-01.1", booking_notes=("P30D", "appointment_end"),
                            booking_details=("P10Y", "appointment_end"))
    report = RetentionEvaluator(ledger, stricter, clock, None).evaluate()
    assert report.policy_changed["stricter"] == ["booking.notes"]
    (changed,) = entries(ledger, "policy-changed")[1:]
    assert changed["policy_version"] == "2026-12-01.1" and changed["stricter"] == ["booking.notes"]
    assert changed["effective_from"] == format_time(clock())
    due = pending(ledger)
    assert due["booking.notes"] == "2024-03-31T10:30:00.000000Z"       # 30 days: re-dated at once
    assert due["booking.details"] == "2030-02-28T10:30:00.000000Z"     # 6 years: never lengthened
    Ingestor(ledger, stricter, clock=clock).ingest_appointment(booking(notes="Second visit."))
    assert pending(ledger)["booking.details"] == "2030-02-28T10:30:00.000000Z"   # still held data
    Ingestor(ledger, stricter, clock=clock).ingest_appointment(booking("a-2", start=datetime(2024, 4, 1, tzinfo=timezone.utc)))
    with Session(ledger.engine) as session:
        new = {r.category: r.due_at for r in retention_dues.pending_before(session, "9999") if r.object_id == "a-2"}
    assert new["booking.details"] == "2034-03-30T00:30:00.000000Z"     # collected since: 10 years
    assert RetentionEvaluator(ledger, stricter, clock, None).evaluate().policy_changed is None


def test_a_changed_policy_under_the_same_version_is_refused(ledger, clock):
    RetentionEvaluator(ledger, POLICY, clock, None).evaluate()
    edited = with_periods(POLICY, POLICY.policy_version, booking_notes=("P30D", "appointment_end"))
    with pytest.raises(PolicyVersionUnchanged):
        RetentionEvaluator(ledger, edited, clock, None).evaluate()


def test_a_cancellation_clock_starts_when_the_appointment_is_cancelled(ledger, clock):
    policy = with_periods(POLICY, "cancel.1", booking_answers=("P14D", "cancellation"))
    set_zone(ledger, LONDON, "America/New_York")
    ingestor = Ingestor(ledger, policy, clock=clock)
    ingestor.ingest_appointment(booking())
    assert "booking.answers" not in pending(ledger)                    # never due while the booking stands
    clock.now = datetime(2024, 3, 5, 15, 0, tzinfo=timezone.utc)       # 10:00 in New York (EST)
    ingestor.record_gone(LONDON, "a-1", reason="cancelled")
    assert pending(ledger)["booking.answers"] == "2024-03-19T14:00:00.000000Z"   # 10:00 EDT, 14 local days on


def test_a_dry_run_writes_nothing(ledger, clock):
    set_zone(ledger, LONDON, "UTC")
    Ingestor(ledger, POLICY, clock=clock).ingest_appointment(booking())
    clock.now = datetime(2024, 7, 1, tzinfo=timezone.utc)
    before = len(entries(ledger, "collected")), pending(ledger)
    report = RetentionEvaluator(ledger, POLICY, clock, None).evaluate(dry_run=True)
    assert report.dry_run and [e.categories for e in report.expired] == [("booking.answers", "booking.notes")]
    assert entries(ledger, "retention-expired") == [] and entries(ledger, "policy-changed") == []
    assert (len(entries(ledger, "collected")), pending(ledger)) == before


def test_status_lists_what_expires_by_category_and_day(ledger, clock):
    set_zone(ledger, LONDON, "UTC")
    Ingestor(ledger, POLICY, clock=clock).ingest_appointment(booking())
    clock.now = datetime(2024, 5, 1, tzinfo=timezone.utc)
    with Session(ledger.engine) as session:
        assert status(session, clock(), days=30) == [
            {"day": "2024-05-30", "category": "booking.answers", "records": 1, "overdue": False},
            {"day": "2024-05-30", "category": "booking.notes", "records": 1, "overdue": False}]
        assert status(session, clock() + timedelta(days=60), days=1)[0]["overdue"] is True


def test_the_evaluation_reads_due_dates_by_a_range_scan_of_the_pending_index(ledger):
    """Its cost grows with the rows due, not with everything held (bench/retention.py measures it)."""
    if ledger.engine.dialect.name != "sqlite":
        pytest.skip("the query plan is checked on SQLite; bench/retention.py times both backends")
    with ledger.engine.connect() as connection:
        plan = " ".join(str(row[-1]) for row in connection.execute(text(
            "EXPLAIN QUERY PLAN SELECT * FROM retention_due WHERE expired_at IS NULL AND due_at < :now ORDER BY due_at"),
            {"now": "2030-01-01"}))
    assert "ix_retention_due_pending" in plan and "SCAN retention_due" not in plan.replace("USING INDEX", "")


def test_a_collected_clock_keeps_its_first_start_when_the_record_changes(ledger, clock):
    policy = with_periods(POLICY, "collected.1", booking_notes=("P10D", "collected"))
    set_zone(ledger, LONDON, "UTC")
    ingestor = Ingestor(ledger, policy, clock=clock)
    ingestor.ingest_appointment(booking())
    first = pending(ledger)["booking.notes"]
    clock.advance(days=3)
    assert ingestor.ingest_appointment(booking(notes="Changed.")) == "updated"
    assert pending(ledger)["booking.notes"] == first == "2024-03-07T09:00:00.000000Z"


def test_two_evaluations_at_once_expire_each_record_once(ledger, clock):
    """A manual `retention run` while the scheduler's evaluation runs: one entry per record."""
    import threading

    set_zone(ledger, LONDON, "UTC")
    ingestor = Ingestor(ledger, POLICY, clock=clock)
    for number in range(20):
        ingestor.ingest_appointment(booking(f"a-{number}"))
    clock.now = datetime(2024, 7, 1, tzinfo=timezone.utc)
    reports = []
    threads = [threading.Thread(target=lambda: reports.append(RetentionEvaluator(ledger, POLICY, clock, None).evaluate()))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(len(r.expired) for r in reports) == 20
    expired = entries(ledger, "retention-expired")
    assert sorted(e["refs"]["appointment"] for e in expired) == sorted(f"a-{n}" for n in range(20))
    assert len(entries(ledger, "policy-changed")) == 1


def test_a_process_on_a_superseded_policy_expires_nothing_and_does_not_flip_the_version_back(ledger, clock):
    """During a rolling upgrade an old scheduler still has the old file: its runs fail, the new one's work."""
    set_zone(ledger, LONDON, "UTC")
    Ingestor(ledger, POLICY, clock=clock).ingest_appointment(booking())
    RetentionEvaluator(ledger, POLICY, clock, None).evaluate()
    stricter = with_periods(POLICY, "2026-12-01.1", booking_notes=("P30D", "appointment_end"))
    RetentionEvaluator(ledger, stricter, clock, None).evaluate()
    clock.now = datetime(2024, 5, 1, tzinfo=timezone.utc)
    with pytest.raises(PolicyVersionSuperseded):
        RetentionEvaluator(ledger, POLICY, clock, None).evaluate()
    assert [e["policy_version"] for e in entries(ledger, "policy-changed")] == [POLICY.policy_version, "2026-12-01.1"]
    assert [e.categories for e in RetentionEvaluator(ledger, stricter, clock, None).evaluate().expired] == [("booking.notes",)]
