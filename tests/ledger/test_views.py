"""Audited views (ledger/views.py): the `viewed` entry is in the chain before a value leaves; the viewer's
IP address, user agent and reason are never in the chain, never in clear on disk, and are destroyed
by the retention job when the policy's usage.audit period is up, each view on its own date."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config.retention import load_policy
from config.settings import DEFAULT_RETENTION_POLICY
from database.times import format_time
from jobs.retention import RetentionEvaluator
from ledger import personal_data
from ledger.core.canonical import parse_entry
from ledger.entries import stream_rows
from ledger.erasure import ErasedSubject
from ledger.models import PersonalData
from ledger.views import VIEW_CATEGORY, VIEW_OBJECT, Viewer, ViewRefused, read_with_audit, view, views_of
from state import retention_dues

from carving import live_files

POLICY = load_policy(DEFAULT_RETENTION_POLICY)
PERSON = {"name": "Ada Lovelace", "email": "ada@example.com"}
VIEWER = Viewer("entra:5b1f0c2e-officer", "203.0.113.77", "Mozilla/5.0 (X11; Linux) CarvedAgent/7731")
REASON = "Access request of Quintus Zebedee, case 2026-31"


def start_clock(session, view_id, view_subject, now):
    retention_dues.start_service_clock(session, VIEW_OBJECT, view_id, view_subject, POLICY.by_id(VIEW_CATEGORY), now)


def collect(ledger) -> str:
    with ledger.transaction() as tx:
        subject = tx.new_subject()
        tx.collect(subject, PERSON, categories={"name": "booking.identity", "email": "booking.contact"}, purpose="appointment")
    return subject


def audited_read(ledger, subject, *, reason=REASON, viewer=VIEWER):
    return read_with_audit(ledger, subject, viewer, purpose="review", reason=reason,
                           category=POLICY.by_id(VIEW_CATEGORY), start_clock=start_clock)


def chain(ledger) -> list[dict]:
    with ledger.engine.connect() as connection:
        return [parse_entry(body) for _, body, _ in stream_rows(connection)]


def viewer_context(ledger, view_id) -> dict[str, str]:
    """The viewer's context, decrypted through the ledger (itself a recorded view)."""
    with ledger.transaction() as tx:
        subject = view(tx.session, view_id).viewer_subject
        return tx.read_personal_data(subject, viewer="test", purpose="check")


def test_a_view_records_one_viewed_entry_and_the_viewer_context_apart(ledger):
    """One `viewed` entry naming the subject, actor, purpose, fields and the view; the viewer's context
    is a `collected` of its own subject under usage.audit, readable through the ledger."""
    subject = collect(ledger)
    shown = audited_read(ledger, subject)
    assert shown.values == PERSON
    entries = chain(ledger)
    (viewed,) = [e for e in entries if e["kind"] == "viewed"]
    assert (viewed["seq"], viewed["subject"], viewed["actor"], viewed["purpose"]) == (shown.seq, subject, VIEWER.user_id, "review")
    assert viewed["fields"] == ["email", "name"] and viewed["refs"] == {"view": shown.view_id}
    (context_entry,) = [e for e in entries if e["kind"] == "collected" and e.get("refs") == {"view": shown.view_id}]
    assert context_entry["categories"] == [VIEW_CATEGORY]
    assert context_entry["fields"] == ["view_reason", "viewer_ip", "viewer_user_agent"]
    assert context_entry["classes"][VIEW_CATEGORY]["period"] == "P1Y"
    with Session(ledger.engine) as session:
        (row,) = views_of(session, VIEWER.user_id)
        assert (row.view_id, row.viewed_subject, row.seq, row.purpose) == (shown.view_id, subject, shown.seq, "review")
    assert viewer_context(ledger, shown.view_id) == {
        "viewer_ip": VIEWER.ip, "viewer_user_agent": VIEWER.user_agent, "view_reason": REASON}


def test_the_viewer_context_is_never_in_clear_in_the_chain_or_on_disk(ledger):
    """An attacker carving the raw files of the ledger database and the key store finds neither the
    IP address, nor the user agent, nor the reason: they are only ciphertexts."""
    shown = audited_read(ledger, collect(ledger))
    secrets = [VIEWER.ip, VIEWER.user_agent, REASON, "Quintus Zebedee", "CarvedAgent/7731"]
    bodies = b"".join(body for body in (str(e).encode() for e in chain(ledger)))
    raw = live_files(ledger.engine) + live_files(ledger.keystore.engine)
    for secret in secrets:
        assert secret.encode() not in bodies
        assert secret.encode() not in raw, f"{secret!r} lies in clear in a database file"
    assert viewer_context(ledger, shown.view_id)["view_reason"] == REASON


@pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
def test_a_view_without_a_reason_is_refused_and_records_nothing(ledger, reason):
    subject = collect(ledger)
    before = chain(ledger)
    with pytest.raises(ViewRefused):
        audited_read(ledger, subject, reason=reason)
    assert chain(ledger) == before
    with Session(ledger.engine) as session:
        assert session.scalar(select(func.count()).select_from(PersonalData)) == 2


def test_an_erased_subject_is_refused_and_records_nothing(ledger):
    subject = collect(ledger)
    ledger.erase_subject(subject, reason="erasure-request")
    before = chain(ledger)
    with pytest.raises(ErasedSubject):
        audited_read(ledger, subject)
    assert chain(ledger) == before


def test_retention_destroys_each_view_context_a_year_after_its_view(ledger, clock):
    """At P1Y after a view the retention job destroys that view's usage.audit data (and only that
    view's: a later view's context stays, and the viewed subject's data is untouched)."""
    subject = collect(ledger)
    first = audited_read(ledger, subject)
    clock.advance(days=100)
    second = audited_read(ledger, subject)
    evaluator = RetentionEvaluator(ledger, POLICY, clock, zones=None)

    clock.advance(days=264)          # the first view is 364 days old: nothing is due yet
    assert evaluator.evaluate().destroyed == 0
    assert viewer_context(ledger, first.view_id)["viewer_ip"] == VIEWER.ip

    clock.advance(days=2)            # 366 days: the first view's context is due
    report = evaluator.evaluate()
    assert report.destroyed == 1
    assert [(e.object_type, e.object_id) for e in report.expired] == [(VIEW_OBJECT, first.view_id)]
    assert viewer_context(ledger, first.view_id) == {}
    assert viewer_context(ledger, second.view_id)["view_reason"] == REASON
    with ledger.transaction() as tx:
        assert personal_data.read_values(tx.session, ledger.keystore.existing_keys(subject), subject) == PERSON
    expired = [e for e in chain(ledger) if e["kind"] == "retention-expired"]
    assert [(e["refs"], e["categories"]) for e in expired] == [({"view": first.view_id}, [VIEW_CATEGORY])]
    destroyed = [e for e in chain(ledger) if e["kind"] == "category-key-destroyed"]
    assert [(e["categories"], e["reason"]) for e in destroyed] == [([VIEW_CATEGORY], "retention-expired")]
    with Session(ledger.engine) as session:
        assert [(r.object_id, r.expired_at) for r in retention_dues.object_dues(session, VIEW_OBJECT, first.view_id)] == []
    assert evaluator.evaluate().destroyed == 0     # repeated: nothing more to destroy


def test_a_view_record_is_due_after_the_policy_period_of_usage_audit(ledger, clock):
    shown = audited_read(ledger, collect(ledger))
    with Session(ledger.engine) as session:
        (due,) = retention_dues.object_dues(session, VIEW_OBJECT, shown.view_id)
    assert (due.category, due.period, due.clock_start) == (VIEW_CATEGORY, "P1Y", format_time(clock()))
    assert due.due_at == format_time(clock() + timedelta(days=365))
