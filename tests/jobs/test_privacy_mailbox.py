"""The privacy mailbox against the emulator over loopback HTTP: its Inbox subscription, the webhook,
the worker turning each new mail into one draft request, and the `privacy-mailbox` catch-up."""
from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bookings_ledger.wiring import Process, build_worker, schedule_from_settings
from config import load_settings
from connector.parse import parse_datetime
from database.times import parse_time
from jobs import gaps
from jobs.scheduler import service_jobs
from ledger.models import RequestProjection
from state.inbox import InboxRow
from state.mailbox_intake import MailboxMessage
from state.watermarks import SyncGap, watermark
from test_erasure_scan import _haystack

MAILBOX = "privacy@contoso.com"
PERSON = "ann.example@example.org"
WORDS = "Please erase every booking you hold about me, Ann Quixotic."


@pytest.fixture(autouse=True)
def mail_permissions(control) -> None:
    """Mail.ReadWrite (bodies, drafts) and Mail.Send, as docs/privacy-mailbox.md asks the admin to grant."""
    granted = control.call("GET", "/options")["granted_permissions"]
    control.call("POST", "/options", {"granted_permissions": [*granted, "Mail.ReadWrite", "Mail.Send"]})


@pytest.fixture
def intake(make_services, control, service, graph, ingestor) -> dict[str, Any]:
    """A seeded business and the privacy mailbox, both subscribed; a worker with the mailbox's intake."""
    businesses = control.seed(appointments=2)
    services = make_services(businesses, PRIVACY_MAILBOX=MAILBOX)
    services.subscriptions.ensure_all()
    worker = build_worker(Process(service.ledger, ingestor, graph), services)
    return {"services": services, "worker": worker, "businesses": businesses}


def deliver(control, text: str = WORDS, *, sender: str = PERSON, subject: str = "My data", **extra: Any) -> dict:
    return control.call("POST", f"/mailboxes/{MAILBOX}/messages", {"text": text, "from": sender, "subject": subject, **extra})


def inbox_rows(service) -> list[InboxRow]:
    with Session(service.ledger.engine) as session:
        return list(session.scalars(select(InboxRow).order_by(InboxRow.id)))


def wait_rows(service, count: int) -> list[InboxRow]:
    deadline = time.monotonic() + 20
    while len(rows := inbox_rows(service)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(rows) >= count, f"{len(rows)} inbox rows, expected {count}"
    return rows


def requests(service) -> list[RequestProjection]:
    with Session(service.ledger.engine) as session:
        return list(session.scalars(select(RequestProjection).order_by(RequestProjection.received_at)))


def taken(service) -> list[MailboxMessage]:
    with Session(service.ledger.engine) as session:
        return list(session.scalars(select(MailboxMessage)))


def test_the_privacy_mailbox_inbox_is_subscribed_for_new_mail_only(intake, control):
    live = {s["resource"]: s for s in control.live_subscriptions()}
    inbox = next(s for resource, s in live.items() if "mailFolders" in resource)
    assert inbox["resource"] == f"users/{MAILBOX}/mailFolders('Inbox')/messages"
    assert inbox["changeType"] == "created"
    assert len(live) == len(intake["businesses"]) + 1


def test_a_mail_becomes_one_draft_request_with_its_sender_and_text_encrypted(intake, control, service, caplog):
    caplog.set_level(logging.DEBUG)
    sent = deliver(control)
    rows = wait_rows(service, 1)
    assert rows[-1].resource_id == sent["immutableId"]
    intake["worker"].run_once()
    assert sent["immutableId"] in caplog.text   # the log names the message, and nothing of what it says
    assert PERSON not in caplog.text and "Quixotic" not in caplog.text and "My data" not in caplog.text
    [request] = requests(service)
    assert (request.state, request.channel, request.request_type) == ("draft", "email", "erasure")
    # The legal clock runs from the mail's arrival, not from when the worker read it.
    assert parse_time(request.received_at) == parse_datetime(sent["receivedDateTime"])
    with service.ledger.transaction() as tx:
        contact = tx.read_personal_data(request.requester_ref, viewer="test", purpose="check")
    assert contact["email"] == PERSON and WORDS in contact["request_text"]
    assert all(row.state == "done" for row in inbox_rows(service))
    haystack = _haystack(service.ledger.engine)
    assert PERSON.encode() not in haystack and b"Quixotic" not in haystack


def test_a_mail_notified_and_caught_up_again_makes_one_request(intake, control, service):
    deliver(control)
    wait_rows(service, 1)
    intake["worker"].run_once()
    report = intake["services"].mailbox.catch_up()
    assert (report.listed, report.requests) == (1, 0)
    # The same notification again (Graph retries) is dropped by the inbox or finds the message taken.
    assert len(requests(service)) == 1 and len(taken(service)) == 1


def test_a_mail_whose_notification_was_lost_is_taken_in_by_the_catch_up_and_closes_the_gap(
        intake, control, service, graph):
    services = intake["services"]
    services.mailbox.catch_up()
    inbox_sub = next(s for s in services.subscriptions.active() if s.business_id == MAILBOX)
    graph.subscriptions.delete(inbox_sub.subscription_id)   # Graph notifies nobody of what comes now
    gap = gaps.record(service.ledger, MAILBOX, reason="removed", start=parse_time(inbox_sub.updated_at),
                      end=service.ledger.clock(), subscription_id=inbox_sub.subscription_id)
    control.advance(seconds=60)
    sent = deliver(control, "Opt out of your marketing, please.")
    control.advance(seconds=60)
    assert not inbox_rows(service)
    report = services.mailbox.catch_up()
    assert report.requests == 1 and gap in report.gaps_filled
    [request] = requests(service)
    assert (request.request_type, request.state) == ("opt-out", "draft")
    with Session(service.ledger.engine) as session:
        assert session.get(SyncGap, gap).filled_at is not None
        assert parse_time(watermark(session, MAILBOX)) > parse_datetime(sent["receivedDateTime"])
    assert {m.message_id for m in taken(service)} == {sent["immutableId"]}


def test_bounces_auto_replies_and_our_own_mail_make_no_request(intake, control, service, graph):
    deliver(control, "Out of office until Monday.", headers={"Auto-Submitted": "auto-replied"})
    deliver(control, "From ourselves", sender=MAILBOX)
    # A mail of ours to an address that cannot exist bounces back into the Inbox as an NDR.
    draft = graph.mail.create_draft(MAILBOX, "nobody@nowhere.invalid", "Your request", "Received.", marker="row-1")
    graph.mail.send_draft(MAILBOX, draft)
    wait_rows(service, 3)
    time.sleep(0.3)
    while intake["worker"].run_once():
        pass
    intake["services"].mailbox.catch_up()
    assert requests(service) == []
    reasons = sorted(m.reason for m in taken(service))
    assert "bounce" in reasons and "own" in reasons and len(reasons) >= 3


def test_without_a_privacy_mailbox_nothing_of_it_runs(make_services, control, service):
    services = make_services(control.seed(appointments=1))
    services.subscriptions.ensure_all()
    assert services.mailbox is None
    assert not [s for s in control.live_subscriptions() if "mailFolders" in s["resource"]]
    jobs = service_jobs(services, lambda: {}, schedule_from_settings(load_settings(service.settings)))
    assert "privacy-mailbox" not in jobs


def test_the_scheduler_job_privacy_mailbox_catches_up(intake, control, service):
    services = intake["services"]
    jobs = service_jobs(services, lambda: {}, schedule_from_settings(load_settings(
        {**service.settings, "REQUEST_INTERVAL_MINUTES": "7"})))
    job, every = jobs["privacy-mailbox"]
    assert every.total_seconds() == 7 * 60
    deliver(control, "Please send me a copy of my data.")
    assert job()["requests"] == 1
    assert [r.request_type for r in requests(service)] == ["access"]


def test_a_removed_inbox_subscription_is_recreated_and_its_gap_left_to_the_catch_up(intake, control, service):
    from jobs.lifecycle import handle

    services = intake["services"]
    inbox_sub = next(s for s in services.subscriptions.active() if s.business_id == MAILBOX)
    control.lifecycle(inbox_sub.subscription_id, "subscriptionRemoved")
    deadline = time.monotonic() + 15
    while not [r for r in inbox_rows(service) if r.kind == "lifecycle"] and time.monotonic() < deadline:
        time.sleep(0.05)
    row = next(r for r in inbox_rows(service) if r.kind == "lifecycle")
    assert handle(row, services.lifecycle).startswith("recreated")
    successor = next(s for s in services.subscriptions.active() if s.business_id == MAILBOX)
    assert successor.subscription_id != inbox_sub.subscription_id
    assert "mailFolders" in successor.resource
    with Session(service.ledger.engine) as session:
        gap = session.scalars(select(SyncGap).where(SyncGap.business_id == MAILBOX)).one()
    assert gap.filled_at is not None   # its catch-up ran as the removal's sweep
