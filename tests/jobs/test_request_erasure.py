"""An erasure request end to end (emulator over HTTP; SQLite and PostgreSQL): the subjects the
requester's email finds are erased on every surface, the future appointment the officer chose
to cancel is cancelled with one mail, the kept one is anonymised in place, nothing personal of
the subject remains in Graph (the emulator's inspect API) or in the raw files of the database,
the chain verifies, and a legal hold keeps what it covers, with the outcome saying so."""
from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from anonymise_fixtures import Bookings, entries, person
from config.retention import load_policy
from jobs.requests import handover
from ledger.holds import place_hold
from ledger import requests
from ledger.integrity import verify_ledger
from ledger.requests import Intake, RequestRules
from request_fixtures import runner, settings_of, verified_request
from state import request_runs

sys.path.insert(0, str(Path(__file__).parents[1] / "ledger"))   # the carving tools live with the ledger's tests
from carving import live_files  # noqa: E402


@pytest.fixture
def policy(service: Any) -> Any:
    return load_policy(settings_of(service).RETENTION_POLICY_FILE)


@pytest.fixture
def bookings(control: Any, service: Any, graph: Any, ingestor: Any, emulator: Any) -> Bookings:
    business = control.seed(appointments=0, customers=0)[0]
    return Bookings(emulator.graph_url, business, graph, ingestor, service.ledger, control)


def _values(who: dict[str, Any]) -> list[str]:
    return [who["name"], who["emailAddress"], who["phone"], who["notes"], who["customQuestionAnswers"][0]["answer"]]


def _live_hits(control: Any, who: dict[str, Any]) -> list[dict[str, Any]]:
    """Where the person's values are still on a surface the service reaches: not Recoverable Items,
    and not the emulator's record of mail delivered to the person (their own copy, not ours)."""
    return [hit for value in _values(who) for hit in control.call("GET", f"/search?text={value}")["hits"]
            if not hit["recoverable"] and hit["surface"] != "mail"]


def _mails_to(control: Any, address: str) -> list[dict[str, Any]]:
    return control.call("GET", f"/mail?recipient={address}")


def _booked(bookings: Bookings, ada: dict[str, Any]) -> dict[str, str]:
    now = bookings.ledger.clock().replace(microsecond=0)
    return {"past": bookings.book(now - timedelta(days=20), [ada]),
            "cancel": bookings.book(now + timedelta(days=10), [ada]),
            "keep": bookings.book(now + timedelta(days=12), [ada])}


def test_an_erasure_request_leaves_nothing_of_the_subject_in_graph_or_the_ledger_files(
        bookings: Bookings, service: Any, policy: Any, control: Any, certificates: Any) -> None:
    ada, grace = person(1), person(2)
    ids = _booked(bookings, ada)
    other = bookings.book(bookings.ledger.clock().replace(microsecond=0) - timedelta(days=5), [grace])
    subject, _ = bookings.subject_of(ids["past"])
    assert len(_live_hits(control, ada)) >= 3     # the search sees the appointments and the customer record
    request_id = verified_request(bookings, service, "erasure", email=ada["emailAddress"].upper(),
                                  choices={ids["cancel"]: "cancel", ids["keep"]: "keep"})
    mailed = len(_mails_to(control, ada["emailAddress"]))

    (report,) = runner(bookings, service, policy).run_queued()

    assert (report.state, report.outcome, report.subjects, report.kept) == ("done", "done", (subject,), 0), report
    assert _live_hits(control, ada) == []
    assert len(_mails_to(control, ada["emailAddress"])) == mailed + 1      # the one cancellation, of `cancel`
    assert bookings.appointment(ids["cancel"]).status_code == 404
    kept = bookings.appointment(ids["keep"])
    assert kept.status_code == 200 and not any(e.get("emailAddress") for e in kept.json()["customers"])
    raw = live_files(service.ledger.engine)
    for value in _values(ada):
        assert value.encode() not in raw and value.lower().encode() not in raw, value
    assert grace["name"].encode() not in raw    # ciphertext only: the haystack cannot see live data either
    assert _live_hits(control, grace) != []     # the other customer is untouched
    with bookings.ledger.transaction() as tx:
        assert tx.subject(subject).status == "erased"
        assert tx.request(request_id).state == "completed" and tx.request(request_id).outcome == "done"
        assert request_runs.run(tx.session, request_id).state == "done"
    assert verify_ledger(service.ledger.engine, verifier_key=None, origin=None, clock=service.ledger.clock).ok
    facts = certificates.issued[request_id]
    (erased,) = facts.subjects
    assert erased.erased_seq and erased.keys_destroyed_at and erased.final_everywhere_at
    surfaces = {(s.surface, s.object_id): s for s in erased.surfaces}
    assert surfaces[("appointment", ids["cancel"])].detail == "cancelled-with-message"
    assert surfaces[("appointment", ids["keep"])].action == "anonymised"
    assert surfaces[("appointment", ids["past"])].action == "deleted"
    assert all(s.graph for s in erased.surfaces if s.surface == "appointment")
    assert set(facts.seqs) >= {facts.started_seq, facts.completed_seq, erased.erased_seq}
    assert other not in {s.object_id for s in erased.surfaces}
    # Run again: nothing is sent twice, no second certificate.
    assert runner(bookings, service, policy).run_queued() == []


def test_a_legal_hold_keeps_what_it_covers_and_the_outcome_is_partial(
        bookings: Bookings, service: Any, policy: Any, control: Any, certificates: Any) -> None:
    ada = person(3)
    ids = _booked(bookings, ada)
    subject, _ = bookings.subject_of(ids["past"])
    with bookings.ledger.transaction() as tx:
        hold = place_hold(tx, "appointment", ids["past"], reason="Dispute 7", placed_by="Jane", ends_at=None)
    request_id = verified_request(bookings, service, "erasure", email=ada["emailAddress"])

    (report,) = runner(bookings, service, policy).run_queued()

    assert (report.state, report.outcome) == ("done", "partial"), report
    kept = certificates.issued[request_id].kept
    assert ("appointment", ids["past"], "legal-hold", (hold.id,)) in {(k.surface, k.object_id, k.reason, k.holds) for k in kept}
    assert ("ledger", "legal-hold") in {(k.surface, k.reason) for k in kept}
    assert bookings.appointment(ids["past"]).status_code == 200      # the held appointment is as it was
    assert bookings.appointment(ids["keep"]).status_code == 200      # default for a future one: kept, anonymised
    with bookings.ledger.transaction() as tx:
        assert tx.subject(subject).status != "erased"
        assert tx.request(request_id).outcome == "partial"


class Killed(BaseException):
    """The process dies here: nothing after this line of the run happens."""


def test_a_run_killed_after_the_cancellation_left_resumes_without_a_second_mail_or_completion(
        bookings: Bookings, service: Any, policy: Any, control: Any, certificates: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    ada = person(4)
    ids = _booked(bookings, ada)
    request_id = verified_request(bookings, service, "erasure", email=ada["emailAddress"],
                                  choices={ids["cancel"]: "cancel"})
    mailed = len(_mails_to(control, ada["emailAddress"]))
    sent = bookings.graph.bookings.cancel_appointment

    def cancel_then_die(*args: Any) -> None:
        sent(*args)
        raise Killed

    monkeypatch.setattr(bookings.graph.bookings, "cancel_appointment", cancel_then_die)
    with pytest.raises(Killed):
        runner(bookings, service, policy).run_queued()
    monkeypatch.setattr(bookings.graph.bookings, "cancel_appointment", sent)
    control.call("DELETE", "/requests")

    def certify_then_die(*args: Any) -> str:
        raise Killed     # killed after the completion committed, before the certificate

    monkeypatch.setattr(handover, "certify", certify_then_die)
    with pytest.raises(Killed):
        runner(bookings, service, policy).run_queued()
    monkeypatch.setattr(handover, "certify", certificates)

    (report,) = runner(bookings, service, policy).run_queued()

    assert (report.state, report.outcome) == ("done", "done")
    assert len(_mails_to(control, ada["emailAddress"])) == mailed + 1     # cancelled once, by the first run
    resumed = control.call("GET", "/requests/log")
    assert not [r for r in resumed if r["method"] == "POST" and r["path"].endswith("/cancel")], "cancel sent again"
    assert _live_hits(control, ada) == []
    completions = [e for e in _entries(bookings, "request-completed") if e["refs"]["request"] == request_id]
    assert len(completions) == 1 and list(certificates.issued) == [request_id]
    assert verify_ledger(service.ledger.engine, verifier_key=None, origin=None, clock=service.ledger.clock).ok


def _entries(bookings: Bookings, kind: str) -> list[dict[str, Any]]:
    return entries(bookings.ledger, kind)


def test_a_parents_request_erases_the_childs_data_and_flags_the_child_for_later_bookings(
        bookings: Bookings, service: Any, policy: Any, control: Any, certificates: Any) -> None:
    child = person(5)      # nothing in the booking says it is a child: the parent does
    appointment_id = bookings.book(bookings.ledger.clock().replace(microsecond=0) - timedelta(days=4), [child])
    subject, _ = bookings.subject_of(appointment_id)
    request_id = verified_request(bookings, service, "child-erasure", email=child["emailAddress"])

    (report,) = runner(bookings, service, policy).run_queued()

    assert (report.state, report.outcome, report.subjects) == ("done", "done", (subject,)), report
    assert _live_hits(control, child) == []
    flagged = [e for e in entries(bookings.ledger, "child-flagged") if e["subject"] == subject]
    assert len(flagged) == 1 and flagged[0]["by_officer"] is True
    with bookings.ledger.transaction() as tx:
        assert tx.subject(subject).status == "erased" and tx.request(request_id).state == "completed"


def test_an_unverified_request_runs_nothing(bookings: Bookings, service: Any, policy: Any, control: Any,
                                            certificates: Any) -> None:
    ada = person(6)
    appointment_id = bookings.book(bookings.ledger.clock().replace(microsecond=0) - timedelta(days=4), [ada])
    rules = RequestRules.from_settings(settings_of(service))
    with bookings.ledger.transaction() as tx:
        request_id = requests.receive(tx, Intake("erasure", "portal", email=ada["emailAddress"]), rules).request_id
    control.call("DELETE", "/requests")

    report = runner(bookings, service, policy).run(request_id)

    assert (report.state, report.detail) == ("failed", "NotVerified")
    assert [r for r in control.call("GET", "/requests/log") if r["path"].startswith("/v1.0")] == []   # not one Graph call
    assert bookings.appointment(appointment_id).status_code == 200 and _live_hits(control, ada)
    with bookings.ledger.transaction() as tx:
        assert tx.request(request_id).state == "awaiting-verification"
        assert request_runs.run(tx.session, request_id).state == "failed"
    assert certificates.issued == {}


def test_a_run_refused_by_the_gate_runs_once_verified_and_queued_again(
        bookings: Bookings, service: Any, policy: Any, control: Any, certificates: Any) -> None:
    ada = person(7)
    bookings.book(bookings.ledger.clock().replace(microsecond=0) - timedelta(days=4), [ada])
    rules = RequestRules.from_settings(settings_of(service))
    with bookings.ledger.transaction() as tx:
        request_id = requests.receive(tx, Intake("erasure", "portal", email=ada["emailAddress"]), rules).request_id
    assert runner(bookings, service, policy).run(request_id).state == "failed"
    assert runner(bookings, service, policy).run_queued() == []          # a failed run is not retried blindly
    with bookings.ledger.transaction() as tx:
        requests.verify(tx, request_id, method="email-code", data_points=["email"], by="subject")
        request_runs.queue_run(tx.session, request_id, by="officer", now=bookings.ledger.clock())
    (report,) = runner(bookings, service, policy).run_queued()
    assert (report.state, report.outcome) == ("done", "done") and _live_hits(control, ada) == []
