"""Every request type, from a mail arriving in the privacy mailbox to a certificate that verifies
offline: the emulator posts the Inbox notification to the real web app, the worker makes the
draft, the officer confirms and verifies it, the runner carries it out through Graph, and
`bookings-ledger certificate verify FILE --key K` (a process with no settings and no database)
accepts the certificate and refuses it once a byte is changed."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from anonymise_fixtures import Bookings, person
from carving import live_files
from bookings_ledger.wiring import Process, build_worker
from config import load_settings
from ledger import requests
from ledger.certificates import stored_certificate
from ledger.checkpoint_store import verifier_key_from_settings
from ledger.core.certificates import verify_certificate
from ledger.models import RequestProjection
from ledger.requests import REQUEST_TYPES, RequestRules
from state import request_runs
from state.inbox import InboxRow

MAILBOX = "privacy@contoso.com"
# What a person writes for each type (jobs/mail_triage.py guesses the type from it).
LETTERS = {
    "access": ("Subject access request", "Please send me a copy of the data you hold about me."),
    "portability": ("My data", "Send my bookings in a machine-readable format to another provider."),
    "rectification": ("My details", "My phone number is wrong, please correct it."),
    "erasure": ("Delete me", "Please erase everything you hold about me."),
    "restriction": ("Processing", "Please restrict processing of my data while I check it."),
    "objection": ("Processing", "I object to this processing of my data."),
    "opt-out": ("Unsubscribe", "Do not sell or share my personal information."),
    "child-erasure": ("My daughter", "I am her parent: delete my daughter's booking data."),
}
BIN = Path(sys.executable).parent


@pytest.fixture
def settings(service: Any, tmp_path: Path) -> Any:
    return load_settings({**service.settings, "PRIVACY_MAILBOX": MAILBOX, "CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
                          "EXPORT_DIR": str(tmp_path / "exports")})


@pytest.fixture
def tenant(control, service, graph, ingestor, emulator, make_services) -> dict[str, Any]:
    """A business with one booking of Ada's, and the privacy mailbox subscribed beside it."""
    granted = control.call("GET", "/options")["granted_permissions"]
    control.call("POST", "/options", {"granted_permissions": [*granted, "Mail.ReadWrite", "Mail.Send"]})
    business = control.seed(appointments=0, customers=0)[0]
    bookings = Bookings(emulator.graph_url, business, graph, ingestor, service.ledger, control)
    ada = person(1)
    bookings.book(service.ledger.clock().replace(microsecond=0) + timedelta(days=3), [ada])
    services = make_services([business], PRIVACY_MAILBOX=MAILBOX)
    services.subscriptions.ensure_all()
    return {"ada": ada, "bookings": bookings, "services": services,
            "worker": build_worker(Process(service.ledger, ingestor, graph), services)}


def mailed_draft(tenant: dict[str, Any], control: Any, service: Any, request_type: str) -> RequestProjection:
    """Ada writes to the privacy mailbox; the notification reaches the worker; the draft it made."""
    subject, text = LETTERS[request_type]
    control.call("POST", f"/mailboxes/{MAILBOX}/messages", {"from": tenant["ada"]["emailAddress"], "subject": subject,
                                                            "text": text})
    deadline = time.monotonic() + 20
    while not _inbox(service) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert tenant["worker"].run_once() >= 1
    with Session(service.ledger.engine) as session:
        [draft] = session.scalars(select(RequestProjection)).all()
    return draft


def mails_to_ada(control: Any, tenant: dict[str, Any]) -> list[dict[str, Any]]:
    """What the emulator delivered to Ada's address (sent from the privacy mailbox)."""
    address = tenant["ada"]["emailAddress"].lower()
    return [m for m in control.call("GET", "/outbox") if address in (r.lower() for r in m["recipients"])]


def _inbox(service: Any) -> list[InboxRow]:
    with Session(service.ledger.engine) as session:
        return list(session.scalars(select(InboxRow).where(InboxRow.kind == "change")))


CORRECTED_NAME = "Ada King-Noel"


def confirmed_and_verified(service: Any, settings: Any, request_id: str, corrections: dict[str, str] | None = None) -> None:
    """The officer confirms the draft (a rectification with the new name the mail asks for), checks
    Ada's name, email and phone against the booking with a signed declaration (every type's degree,
    CCPA's "high" included), and queues the run."""
    with service.ledger.transaction() as tx:
        draft = tx.request(request_id)
        if corrections is None and draft.request_type == "rectification":
            corrections = {"name": CORRECTED_NAME}
        request = requests.confirm(tx, request_id, RequestRules.from_settings(settings), corrections=corrections,
                                   by="officer")
        if request.state == "awaiting-verification":
            requests.verify(tx, request_id, method="officer", data_points=["name", "email", "phone"], declaration=True,
                            by="officer")
        assert requests.why_not_startable(tx.request(request_id)) is None
        request_runs.queue_run(tx.session, request_id, by="officer", now=service.ledger.clock())


def verify_offline(text: str, key: str, where: Path) -> int:
    """`bookings-ledger certificate verify FILE --key K` in a process with no settings at all."""
    where.write_text(text)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(where.parent)}
    return subprocess.run([str(BIN / "bookings-ledger"), "certificate", "verify", str(where), "--key", key],
                          env=env, cwd=where.parent, capture_output=True, timeout=120).returncode


@pytest.mark.parametrize("request_type", REQUEST_TYPES)
def test_a_mailed_request_ends_in_a_certificate_that_verifies_offline(request_type, tenant, control, service, settings,
                                                                      tmp_path):
    from jobs.requests.runner import RequestRunner

    draft = mailed_draft(tenant, control, service, request_type)
    assert (draft.state, draft.channel, draft.request_type) == ("draft", "email", request_type)
    mailer = tenant["services"].mail.requests
    mailer.run()
    assert mails_to_ada(control, tenant) == []   # a draft is the officer's to confirm: nobody is written to yet
    confirmed_and_verified(service, settings, draft.request_id)
    mailer.run()
    acknowledged = mails_to_ada(control, tenant)
    runner = RequestRunner(service.ledger, tenant["bookings"].graph, tenant["bookings"].ingestor.policy, settings,
                           service.ledger.clock)
    (report,) = runner.run_queued()
    assert report.state == "done" and report.certificate_id, report
    mailer.run()
    answered = mails_to_ada(control, tenant)
    assert len(answered) > len(acknowledged) and all(m["from"].lower() == MAILBOX for m in answered)
    # Our own answers came back to nobody's Inbox as requests: one request, the mailed one.
    tenant["services"].mailbox.catch_up()
    with Session(service.ledger.engine) as session:
        assert session.scalars(select(RequestProjection.request_id)).all() == [draft.request_id]
    with service.ledger.transaction() as tx:
        certificate = stored_certificate(tx.session, report.certificate_id)
        assert tx.request(draft.request_id).state == "completed"
    key = verifier_key_from_settings(settings)
    assert verify_offline(certificate.text, key, tmp_path / "certificate.json") == 0
    facts = verify_certificate(certificate.text, key).body["facts"]
    assert facts["request_id"] == draft.request_id
    # An access or portability certificate proves the `exported` entry of the archive it names.
    assert (facts["exported_seq"] is not None) == (request_type in ("access", "portability"))
    for value in (tenant["ada"]["emailAddress"], tenant["ada"]["name"], LETTERS[request_type][1], CORRECTED_NAME):
        assert value not in certificate.text
    forged = certificate.text.replace(draft.request_id, "req_" + "0" * 16)
    assert verify_offline(forged, key, tmp_path / "forged.json") == 1
    if request_type in ("erasure", "child-erasure"):
        nothing_of_ada_remains(tenant, control, service, settings, LETTERS[request_type][1])


def nothing_of_ada_remains(tenant: dict[str, Any], control: Any, service: Any, settings: Any, words: str) -> None:
    """The erasure scan: once the answer is sent and the request's contact details forgotten, none of
    Ada's values is on a Graph surface the service reaches or in the ledger's live files, and the
    chain verifies. Her own mail to the privacy mailbox, and mail delivered to her, are hers and the
    mailbox's (the certificate says so: that mailbox's retention governs the correspondence, which is
    also the request's record), not the service's: the search lists them as `mail` and `messages` there."""
    from jobs.request_contacts import forget_request_contacts
    from jobs.request_mail import mail_pending
    from ledger.integrity import verify_ledger

    assert forget_request_contacts(service.ledger, now=service.ledger.clock(), keep=timedelta(days=30),
                                   mail_pending=mail_pending)
    ada = tenant["ada"]
    values = [ada["name"], ada["emailAddress"], ada["phone"], words]
    hits = [hit for value in values for hit in control.call("GET", f"/search?text={value}")["hits"]
            if not hit["recoverable"] and hit["surface"] != "mail"
            and not (hit["surface"] == "messages" and hit["business"] == MAILBOX)]
    assert hits == []
    raw = live_files(service.ledger.engine)
    for value in values:
        assert value.encode() not in raw and value.lower().encode() not in raw, value
    assert verify_ledger(service.ledger.engine, verifier_key=verifier_key_from_settings(settings),
                         origin=settings.CHECKPOINT_ORIGIN, clock=service.ledger.clock).ok


def test_a_mailed_rectification_confirmed_without_corrections_runs_nothing(tenant, control, service, settings):
    """A mail's words are not corrections the runner can apply: confirmed without the values it
    asks for (the officer reads them from the mail), the run stops and nothing is written to Graph."""
    from jobs.requests.runner import RequestRunner

    draft = mailed_draft(tenant, control, service, "rectification")
    assert draft.request_type == "rectification"
    confirmed_and_verified(service, settings, draft.request_id, corrections={})
    runner = RequestRunner(service.ledger, tenant["bookings"].graph, tenant["bookings"].ingestor.policy, settings,
                           service.ledger.clock)
    (report,) = runner.run_queued()
    assert (report.state, report.detail) == ("failed", "NothingToCorrect")
