"""The overview: every role sees counts, states and times, never a person; each block says ok or
attention, and each thing that should worry a privacy officer turns its block to attention."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from ledger.holds import place_hold
from ledger.requests import Intake, RequestRules, receive
from overview_data import NOW, CLINIC, in_order, ingest, prepare, table_rows, utc
from state import leases, officer_alerts, retention_dues, subscriptions, watermarks


@pytest.fixture
def dashboard_settings(dashboard_settings):
    return {**dashboard_settings, "BOOKING_BUSINESSES": CLINIC}


@pytest.fixture(autouse=True)
def _prepared(dashboard_app, dashboard):
    prepare(dashboard_app, dashboard)


def blocks(client) -> dict[str, str]:
    """Block title -> "OK" or "Attention", as the page says it."""
    html = client.get("/").get_data(as_text=True)
    return dict(re.findall(r'<h2 id="block-\d+">([^<]+)</h2>\s*<p><span class="status-\w+">(\w+)</span>', html))


def test_every_role_sees_the_overview_with_records_by_state_and_category_and_no_person(dashboard, officer, auditor, admin):
    ingest(dashboard, "a-1", start=utc(2026, 12, 10, 10), customer_number=1)
    ingest(dashboard, "a-2", start=utc(2026, 12, 11, 10), customer_number=2)
    for client in (officer, auditor, admin):
        page = client.get("/")
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        assert table_rows(html, "Records by state") == [["appointment", "active", "2"], ["customer", "active", "2"]]
        categories = table_rows(html, "Data held, by category")
        assert categories and all(row[1] == "2" for row in categories)
        for value in ("Person Number1", "person1@example.org", "+44 20 7946 0001", "7946"):
            assert value not in html


def test_a_service_in_good_health_is_all_ok(dashboard, officer):
    in_order(dashboard, NOW)
    page = officer.get("/").get_data(as_text=True)
    assert set(blocks(officer).values()) == {"OK"}, blocks(officer)
    assert "Everything is in order." in page
    assert table_rows(page, "Completeness") == [[CLINIC, "2026-12-01 09:20 UTC", "0", "2026-12-01 09:25 UTC"]]
    assert table_rows(page, "Job runs") == [["reconcile", "ok", "2026-12-01 09:18 UTC", "never", "120.0 s"]]


def _no_subscription(dashboard):
    with Session(dashboard.engine) as session, session.begin():
        subscriptions.update_subscription(session, "sub-1", NOW, state="removed")


def _subscription_about_to_expire(dashboard):
    with Session(dashboard.engine) as session, session.begin():
        subscriptions.update_subscription(session, "sub-1", NOW, expires_at="2026-12-01T11:00:00.000000Z")


def _gap_open(dashboard):
    with Session(dashboard.engine) as session, session.begin():
        watermarks.record_gap(session, CLINIC, reason="missed", start=NOW - timedelta(hours=1), end=NOW, now=NOW)


def _job_failed(dashboard):
    run = leases.start_run(dashboard.engine, "reconcile", "scheduler-1", NOW - timedelta(minutes=2))
    leases.finish_run(dashboard.engine, run, NOW - timedelta(minutes=1), outcome="failed", detail={"error": "Timeout"})


def _alert_open(dashboard):
    with Session(dashboard.engine) as session, session.begin():
        officer_alerts.raise_alert(session, "child-flagged", "0" * 32, "2026-12-01T08:00:00.000000Z", raised_by="rule")


def _hold_ending_soon(dashboard):
    with dashboard.ledger.transaction() as tx:
        place_hold(tx, "business", CLINIC, reason="Case 2026-14", placed_by="officer", ends_at=NOW + timedelta(days=3))


def _retention_overdue(dashboard):
    with Session(dashboard.engine) as session, session.begin():
        retention_dues.set_due_dates(session, "appointment", "a-9", "1" * 32,
                                     {"booking.contact": retention_dues.Clock(NOW - timedelta(days=40), "P30D")},
                                     business_id=CLINIC, zone=NOW.tzinfo)


def _request_overdue(dashboard):
    with dashboard.ledger.transaction() as tx:
        receive(tx, Intake("access", "telephone", phone="+353 1 555 0100", received_at=NOW - timedelta(days=40)),
                RequestRules.from_settings(dashboard.settings))


@pytest.mark.parametrize(("trouble", "block"), [
    (_request_overdue, "Data-subject requests"),
    (_no_subscription, "Subscription health"),
    (_subscription_about_to_expire, "Subscription health"),
    (_gap_open, "Completeness"),
    (_job_failed, "Job runs"),
    (_alert_open, "Alerts for the privacy officer"),
    (_hold_ending_soon, "Legal holds"),
    (_retention_overdue, "Data held, by category"),
])
def test_each_trouble_turns_its_block_to_attention(dashboard, officer, trouble, block):
    in_order(dashboard, NOW)
    trouble(dashboard)
    statuses = blocks(officer)
    assert statuses.pop(block) == "Attention"
    assert set(statuses.values()) == {"OK"}
    assert "1 of 9 areas need your attention: " + block in officer.get("/").get_data(as_text=True)


def test_a_watermark_hours_behind_needs_attention(dashboard_app, dashboard, officer):
    in_order(dashboard, NOW - timedelta(hours=3))
    assert blocks(officer)["Completeness"] == "Attention"


def test_an_old_verify_and_no_checkpoint_need_attention(dashboard, officer):
    assert blocks(officer)["Ledger integrity"] == "Attention"       # never verified
    in_order(dashboard, NOW - timedelta(days=8))
    page = officer.get("/").get_data(as_text=True)
    assert blocks(officer)["Ledger integrity"] == "Attention"
    assert "more than a week old" in page


def test_an_item_due_moments_ago_is_not_yet_the_retention_jobs_fault(dashboard, officer):
    """The job runs every RETENTION_INTERVAL_MINUTES: an item due within that (and a run's time) is not late."""
    in_order(dashboard, NOW)
    with Session(dashboard.engine) as session, session.begin():
        retention_dues.set_due_dates(session, "appointment", "a-10", "2" * 32,
                                     {"booking.contact": retention_dues.Clock(NOW - timedelta(days=30, minutes=5), "P30D")},
                                     business_id=CLINIC, zone=NOW.tzinfo)
    assert blocks(officer)["Data held, by category"] == "OK"
