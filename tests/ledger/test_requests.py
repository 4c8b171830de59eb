"""The request lifecycle in the ledger: the verification gate, duplicates, extensions, refusals.

Every path to execution passes `requests.start`; these tests try it from every state a request
can be in and at every degree of verification.
"""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from ledger import requests
from ledger.core.canonical import parse_entry
from ledger.deadlines import Calendar, Calendars
from ledger.entries import stream_rows
from ledger.requests import Intake, NotVerified, RequestError, RequestRules

RULES = RequestRules(Calendars(ZoneInfo("Europe/Dublin"), Calendar("IE"), Calendar("US", "CA")), "gdpr", timedelta(days=30))
EMAIL = "ada.lovelace@example.org"


def _receive(ledger, request_type="erasure", **intake):
    with ledger.transaction() as tx:
        return requests.receive(tx, Intake(request_type, intake.pop("channel", "dashboard"), **{"email": EMAIL, **intake}), RULES)


def test_a_request_waits_for_verification_and_only_then_starts(ledger):
    request = _receive(ledger)
    assert request.state == "awaiting-verification" and request.verification == "none"
    with ledger.transaction() as tx, pytest.raises(NotVerified):
        requests.start(tx, request.request_id, subjects=[], by="officer")
    with ledger.transaction() as tx:
        requests.verify(tx, request.request_id, method="email-code", data_points=["email"], by="subject")
        started = requests.start(tx, request.request_id, subjects=["s1"], by="officer")
    assert started.state == "running" and requests.subjects_of(started) == ["s1"]
    with ledger.transaction() as tx, pytest.raises(RequestError):   # a second start: already running
        requests.start(tx, request.request_id, subjects=[], by="officer")


def test_ccpa_erasure_needs_two_data_points_and_an_opt_out_none(ledger):
    request = _receive(ledger, regime="ccpa")
    with ledger.transaction() as tx:
        requests.verify(tx, request.request_id, method="email-code", data_points=["email"], by="subject")
    with ledger.transaction() as tx, pytest.raises(NotVerified, match="needs 'reasonable'"):
        requests.start(tx, request.request_id, subjects=[], by="officer")
    with ledger.transaction() as tx:
        requests.verify(tx, request.request_id, method="officer", data_points=["email", "phone"], by="officer")
        assert requests.start(tx, request.request_id, subjects=[], by="officer").state == "running"
    opt_out = _receive(ledger, "opt-out", email="someone.else@example.org")
    assert opt_out.state == "verified"
    with ledger.transaction() as tx:
        assert requests.start(tx, opt_out.request_id, subjects=[], by="job").state == "running"


def test_a_childs_erasure_is_verified_by_the_officer_only(ledger):
    request = _receive(ledger, "child-erasure")
    with ledger.transaction() as tx, pytest.raises(RequestError, match="parent"):
        requests.verify(tx, request.request_id, method="email-link", data_points=["email"], by="subject")


def test_a_second_request_of_the_same_type_inside_the_window_is_linked_never_run(ledger, clock):
    first = _receive(ledger)
    clock.advance(days=3)
    second = _receive(ledger, email=" ADA.Lovelace@EXAMPLE.org ")
    assert second.state == "duplicate" and second.duplicate_of == first.request_id
    with ledger.transaction() as tx:
        with pytest.raises(RequestError):
            requests.verify(tx, second.request_id, method="email-code", data_points=["email"], by="subject")
    with ledger.transaction() as tx, pytest.raises(RequestError, match="is duplicate"):
        requests.start(tx, second.request_id, subjects=[], by="officer")
    assert _receive(ledger, "access").state == "awaiting-verification"    # another type is not a duplicate
    clock.advance(days=31)
    assert _receive(ledger).state == "awaiting-verification"              # outside the window


def test_an_extension_is_allowed_once_inside_the_first_month(ledger, clock):
    request = _receive(ledger)
    with ledger.transaction() as tx:
        extended = requests.extend(tx, request.request_id, reason="complexity", note="many bookings", by="officer",
                                   rules=RULES)
        assert extended.due_at > extended.first_due_at
        with pytest.raises(RequestError, match="extended already"):
            requests.extend(tx, request.request_id, reason="complexity", note=None, by="officer", rules=RULES)
    late = _receive(ledger, "access", email="late@example.org")
    clock.advance(days=40)
    with ledger.transaction() as tx, pytest.raises(RequestError, match="first period ended"):
        requests.extend(tx, late.request_id, reason="complexity", note=None, by="officer", rules=RULES)


def test_free_text_stays_out_of_the_chain(ledger, db):
    request = _receive(ledger, "rectification", text="Please fix my surname", corrections={"name": "Ada King"})
    with ledger.transaction() as tx:
        requests.refuse(tx, request.request_id, reason="manifestly-unfounded", note="Officer note: Lovelace", by="o")
    with db.connect() as connection:
        bodies = b"".join(body for _seq, body, _hash in stream_rows(connection))
    for secret in (b"ada.lovelace", b"surname", b"Ada King", b"Lovelace"):
        assert secret not in bodies
    kinds = [parse_entry(body)["kind"] for _seq, body, _hash in stream_rows(db.connect())]
    assert kinds[-2:] == ["request-received", "request-refused"]


def test_a_draft_is_confirmed_or_discarded_and_keeps_its_receipt_time(ledger, clock):
    received = clock() - timedelta(hours=5)
    draft = _receive(ledger, "access", channel="email", draft=True, received_at=received, message_id="AAMk1")
    assert draft.state == "draft"
    with ledger.transaction() as tx, pytest.raises(NotVerified):
        requests.start(tx, draft.request_id, subjects=[], by="officer")
    with ledger.transaction() as tx:
        confirmed = requests.confirm(tx, draft.request_id, RULES, request_type="erasure", by="officer")
    assert confirmed.state == "awaiting-verification" and confirmed.request_type == "erasure"
    assert confirmed.received_at == draft.received_at
    other = _receive(ledger, "access", channel="email", draft=True, email="spam@example.org")
    with ledger.transaction() as tx:
        assert requests.discard(tx, other.request_id, by="officer").state == "discarded"
