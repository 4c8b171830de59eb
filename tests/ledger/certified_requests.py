"""A request run to completion, with the facts its certificate states (tests of certificates and their commands)."""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from jobs.requests.facts import CertificateFacts, GraphEvidence, KeptItem, SubjectFacts, SurfaceFact
from ledger import requests
from ledger.deadlines import Calendar, Calendars
from ledger.requests import Intake, RequestRules

RULES = RequestRules(Calendars(ZoneInfo("Europe/Dublin"), Calendar("IE"), Calendar("US", "CA")), "gdpr", timedelta(days=30))


def erased_request(ledger):
    """An erasure request run to completion over one subject with data: (request id, facts)."""
    with ledger.transaction() as tx:
        subject = tx.new_subject()
        tx.collect(subject, {"email": "ada@example.org"}, categories={"email": "contact"}, purpose="appointment",
                   refs={"appointment": "appt-1"})
        request = requests.receive(tx, Intake("erasure", "dashboard", email="ada@example.org"), RULES)
        requests.verify(tx, request.request_id, method="email-code", data_points=["email"], by="subject")
        tx.append("viewed", subject=subject, actor="x", purpose="test")  # an entry the facts do not cite
        started = requests.start(tx, request.request_id, subjects=[subject], by="officer").last_seq
        anonymised = tx.append("anonymised", subject=subject, refs={"appointment": "appt-1"}, surface="appointment").seq
    receipt = ledger.erase_subject(subject, reason="erasure-request")
    with ledger.transaction() as tx:
        requests.complete(tx, request.request_id, outcome="partial")
        completed = requests.get(tx, request.request_id).last_seq
    facts = CertificateFacts(
        request.request_id, "erasure", "partial", started_seq=started, completed_seq=completed,
        subjects=(SubjectFacts(subject, surfaces=(
            SurfaceFact("appointment", "anonymised", business="biz-1", object_id="appt-1",
                        graph=(GraphEvidence("graph-req-1", 204),), seqs=(anonymised,), detail="rewritten"),),
            erased_seq=receipt.erased_seq, key_destroyed_seq=receipt.key_destroyed_seq,
            keys_destroyed_at=receipt.keys_destroyed_at, final_everywhere_at=receipt.final_everywhere_at),),
        kept=(KeptItem(subject, "customer", "cust-1", "legal-hold", holds=("hold-1",)),),
        counts={"appointment": 1})
    return request.request_id, facts
