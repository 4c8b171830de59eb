"""What each message a request is due says, and when it is due: acknowledgement (CCPA: the receipt
confirmation), verification code and link (portal's challenges), extension notice, completion
(export link; what was kept and why), refusal (reason, right to complain), and the daily digest."""
from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import text

from config import load_settings
from jobs.request_mail import RequestMailer, mail_pending
from ledger import requests
from ledger.requests import Intake, RequestRules
from mail_double import MailDouble
from state import outgoing_mail, portal_links, request_runs, verification

MAILBOX = "privacy@contoso.com"
ADDRESS = "ada@example.org"


class Graph:
    def __init__(self, mail: MailDouble) -> None:
        self.mail = mail


@pytest.fixture
def settings(service: Any) -> Any:
    return load_settings({**service.settings, "PRIVACY_MAILBOX": MAILBOX, "REQUEST_DIGEST_TO": "officer@contoso.com"})


@pytest.fixture
def double() -> MailDouble:
    return MailDouble()


@pytest.fixture
def mailer(service: Any, settings: Any, double: MailDouble) -> RequestMailer:
    return RequestMailer(service.ledger, Graph(double), settings)


@pytest.fixture
def receive(service: Any, settings: Any) -> Any:
    def received(request_type: str = "erasure", **options: Any) -> str:
        with service.ledger.transaction() as tx:
            intake = Intake(request_type, options.pop("channel", "portal"), email=ADDRESS, **options)
            return requests.receive(tx, intake, RequestRules.from_settings(settings)).request_id
    return received


def messages(double: MailDouble, template_words: str) -> list[Any]:
    return [m for m in double.sent if template_words in m.subject]


def test_a_verification_code_and_link_are_mailed_for_a_wanted_challenge_and_verify(service, mailer, double, receive, db):
    """The code and the link in the mail check against the challenge; neither is stored in plain text."""
    request_id = receive()
    with service.ledger.transaction() as tx:
        challenge = verification.want_challenge(tx.session, request_id, tx.clock())
    mailer.run()
    [mail] = messages(double, "verification code")
    code = re.search(r"^\s+(\d{6})$", mail.text, re.MULTILINE).group(1)
    token = re.search(r"/privacy/v/(\S+)", mail.text).group(1)
    with db.connect() as connection:
        stored = " ".join(str(row) for table in ("outgoing_mail", "verification_challenges")
                          for row in connection.execute(text(f"SELECT * FROM {table}")))
    assert code not in stored and token not in stored
    with service.ledger.transaction() as tx:
        assert verification.check_code(tx.session, challenge, code, tx.clock(), 3).ok
    mailer.run()
    assert len(messages(double, "verification code")) == 1       # once per challenge


def test_a_mailed_draft_is_acknowledged_only_once_the_officer_confirms_it(service, settings, mailer, double, receive):
    request_id = receive(channel="email", draft=True)
    mailer.run()
    assert double.sent == []
    with service.ledger.transaction() as tx:
        requests.confirm(tx, request_id, RequestRules.from_settings(settings), by="officer")
    mailer.run()
    [ack] = double.sent
    assert request_id in ack.subject and "one-time" in ack.text


def test_a_ccpa_acknowledgement_confirms_receipt_and_gives_the_deadline(service, mailer, double, receive):
    request_id = receive(regime="ccpa")
    mailer.run()
    [ack] = double.sent
    with service.ledger.transaction() as tx:
        due = requests.get(tx, request_id).due_at
    assert "This confirms that we received your request" in ack.text
    assert re.search(r"answer by (\d{4}-\d\d-\d\d)", ack.text).group(1) <= due[:10]


def test_an_extension_is_noticed_with_its_reason_and_the_officers_note(service, settings, mailer, double, receive):
    request_id = receive()
    mailer.run()
    with service.ledger.transaction() as tx:
        requests.extend(tx, request_id, reason="complexity", note="We must search the archive.", by="officer",
                        rules=RequestRules.from_settings(settings))
    mailer.run()
    [notice] = messages(double, "more time")
    assert "the request is complex" in notice.text and "We must search the archive." in notice.text
    assert "lodge a complaint" in notice.text


@pytest.mark.parametrize(("regime", "complaint"), [("gdpr", "supervisory authority"), ("ccpa", "California Privacy Protection Agency")])
def test_a_refusal_gives_its_reason_and_the_right_to_complain(service, mailer, double, receive, regime, complaint):
    request_id = receive(regime=regime)
    with service.ledger.transaction() as tx:
        requests.refuse(tx, request_id, reason="manifestly-unfounded", note=None, by="officer")
    mailer.run()
    [refusal] = messages(double, "cannot act")
    assert "manifestly unfounded" in refusal.text and complaint in refusal.text
    assert messages(double, "We received") == []                   # refused before its acknowledgement went


def completed(service: Any, request_id: str, outcome: str = "done", kept: list[dict[str, str]] | None = None) -> None:
    with service.ledger.transaction() as tx:
        requests.verify(tx, request_id, method="officer", data_points=["email", "phone"], by="officer")
        requests.start(tx, request_id, subjects=[], by="runner")
        requests.complete(tx, request_id, outcome=outcome)
        request_runs.record_step(tx.session, request_id, "complete", "done", tx.clock(),
                                 evidence={"facts": {"kept": kept or []}})


def test_an_access_completion_carries_a_single_use_export_link_and_no_attachment(service, mailer, double, receive):
    request_id = receive("access")
    completed(service, request_id)
    mailer.run()
    [done] = messages(double, "is complete")
    token = re.search(r"/privacy/export/(\S+)", done.text).group(1)
    with service.ledger.transaction() as tx:
        assert portal_links.redeem_link(tx.session, token, "export", tx.clock()) == request_id
        assert portal_links.redeem_link(tx.session, token, "export", tx.clock()) is None


def test_a_partial_erasure_says_what_was_kept_and_why(service, mailer, double, receive):
    request_id = receive()
    completed(service, request_id, "partial", [{"subject": "s", "surface": "appointment", "object_id": "a1",
                                                "reason": "legal-hold", "holds": ["h1"]}])
    with service.ledger.transaction() as tx:
        assert mail_pending(tx.session, request_id)                 # its closing message is still to go
    mailer.run()
    [done] = messages(double, "is complete")
    assert "the law requires us to keep it" in done.text and "/privacy/export/" not in done.text
    with service.ledger.transaction() as tx:
        assert not mail_pending(tx.session, request_id)


def test_the_digest_lists_requests_near_their_deadline_once_a_day(service, mailer, double, receive, control):
    request_id = receive()
    mailer.run()
    assert messages(double, "Privacy requests due") == []           # a month away: nothing to alert
    control.advance(hours=24 * 27)
    mailer.run()
    mailer.run()
    [digest] = messages(double, "Privacy requests due")
    assert digest.to == "officer@contoso.com" and request_id in digest.text and ADDRESS not in digest.text
    control.advance(hours=24)
    mailer.run()
    assert len(messages(double, "Privacy requests due")) == 2


def test_another_job_sends_a_message_once_and_a_context_that_does_not_fit_fails_it(service, mailer, double, receive):
    request_id = receive()
    with service.ledger.transaction() as tx:
        requester = requests.get(tx, request_id).requester_ref
    first = mailer.send(request_id, "refusal", requester, {"reason": "excessive"})
    assert mailer.send(request_id, "refusal", requester, {"reason": "excessive"}) == first
    [refusal] = double.sent
    assert "excessive" in refusal.text
    mailer.send(request_id, "extension", requester, {"no_such_placeholder": "x"})
    assert len(double.sent) == 1
    with service.ledger.transaction() as tx:
        assert outgoing_mail.by_purpose(tx.session, f"extension:{request_id}:{requester}").detail == "template-context"


def test_the_digest_lists_a_ccpa_draft_whose_receipt_confirmation_is_near(service, settings, mailer, double, receive,
                                                                       control):
    """A mailed CCPA request still a draft cannot be acknowledged; its 10-business-day confirmation
    deadline is alerted, and no longer once the acknowledgement went."""
    request_id = receive(regime="ccpa", channel="email", draft=True)
    control.advance(hours=24 * 7)
    mailer.run()
    [digest] = messages(double, "Privacy requests due")
    assert request_id in digest.text and "receipt-not-confirmed" in digest.text
    with service.ledger.transaction() as tx:
        requests.confirm(tx, request_id, RequestRules.from_settings(settings), by="officer")
    mailer.run()
    assert messages(double, "We received")
    control.advance(hours=24)
    mailer.run()
    assert len(messages(double, "Privacy requests due")) == 1      # nothing else near: no digest the next day
