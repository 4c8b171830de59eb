"""A closed request's contact details are erased once nothing needs them; its record stays."""
from __future__ import annotations

from datetime import timedelta

from ledger import requests
from ledger.core.canonical import parse_entry
from ledger.entries import stream_rows
from ledger.holds import place_hold
from ledger.requests import Intake
from jobs.request_contacts import forget_request_contacts
from test_requests import RULES

KEEP = timedelta(days=30)


def _closed(ledger, request_type: str, email: str) -> tuple[str, str]:
    with ledger.transaction() as tx:
        request = requests.receive(tx, Intake(request_type, "cli", email=email), RULES)
        requests.verify(tx, request.request_id, method="officer", data_points=["email"], by="officer")
        requests.start(tx, request.request_id, subjects=[], by="officer")
        requests.complete(tx, request.request_id, outcome="done")
        return request.request_id, request.requester_ref


def _status(ledger, subject: str) -> str:
    with ledger.transaction() as tx:
        return tx.subject(subject).status


def test_contacts_go_after_the_keep_period_an_erasures_once_its_mail_is_sent(ledger, clock, db):
    access_id, access_requester = _closed(ledger, "access", "one@example.org")
    erasure_id, erasure_requester = _closed(ledger, "erasure", "two@example.org")
    pending = {erasure_id}
    mail_pending = lambda _session, request_id: request_id in pending  # noqa: E731
    assert forget_request_contacts(ledger, now=clock(), keep=KEEP, mail_pending=mail_pending) == []
    pending.clear()                                  # the completion mail went out
    assert forget_request_contacts(ledger, now=clock(), keep=KEEP, mail_pending=mail_pending) == [erasure_id]
    assert _status(ledger, erasure_requester) == "erased" and _status(ledger, access_requester) == "active"
    clock.advance(days=31)
    assert forget_request_contacts(ledger, now=clock(), keep=KEEP, mail_pending=mail_pending) == [access_id]
    assert forget_request_contacts(ledger, now=clock(), keep=KEEP, mail_pending=mail_pending) == []
    with ledger.transaction() as tx:                # the records stay, ids and dates only
        assert tx.request(access_id).state == tx.request(erasure_id).state == "completed"
    with db.connect() as connection:
        erased = [parse_entry(body) for _s, body, _h in stream_rows(connection) if parse_entry(body)["kind"] == "erased"]
    assert {entry["refs"]["request"] for entry in erased} == {access_id, erasure_id}


def test_a_hold_on_the_requester_keeps_the_contact(ledger, clock):
    request_id, requester = _closed(ledger, "access", "held@example.org")
    with ledger.transaction() as tx:
        place_hold(tx, "subject", requester, reason="litigation", placed_by="officer", ends_at=None)
    clock.advance(days=31)
    assert forget_request_contacts(ledger, now=clock(), keep=KEEP, mail_pending=lambda *_: False) == []
    assert _status(ledger, requester) == "active"
