"""The sender's at-most-once state machine, at every point a process can die: draft, record, send,
record. A double stands in for Graph's drafts here so each window is hit exactly; the same
guarantees over real HTTP, with a real SIGKILL, are test_request_mail.py's."""
from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select, text

from config import load_settings
from jobs.mail_sender import CLAIM_TIMEOUT
from jobs.request_mail import RequestMailer
from ledger import requests
from ledger.core.canonical import parse_entry
from ledger.models import EntryIndex, LedgerEntry
from ledger.requests import Intake, RequestRules
from mail_double import Died, MailDouble
from state import outgoing_mail
from state.outgoing_mail import OutgoingMail

MAILBOX = "privacy@contoso.com"


class Graph:
    """What RequestMailer takes as its connector: only `.mail` is used."""

    def __init__(self, mail: MailDouble) -> None:
        self.mail = mail


@pytest.fixture
def double() -> MailDouble:
    return MailDouble()


@pytest.fixture
def settings(service: Any) -> Any:
    return load_settings({**service.settings, "PRIVACY_MAILBOX": MAILBOX})


@pytest.fixture
def mailer(service: Any, settings: Any, double: MailDouble) -> RequestMailer:
    return RequestMailer(service.ledger, Graph(double), settings)


def receive(service: Any, settings: Any, **contact: str) -> str:
    with service.ledger.transaction() as tx:
        return requests.receive(tx, Intake("erasure", "cli", **contact), RequestRules.from_settings(settings)).request_id


def sent_entries(service: Any) -> list[dict[str, Any]]:
    with service.ledger.transaction() as tx:
        bodies = tx.session.scalars(select(LedgerEntry.body).join(EntryIndex, EntryIndex.seq == LedgerEntry.seq)
                                    .where(EntryIndex.kind == "message-sent").order_by(LedgerEntry.seq))
        return [parse_entry(body) for body in bodies]


def rows(service: Any) -> list[OutgoingMail]:
    with service.ledger.transaction() as tx:
        return list(tx.session.scalars(select(OutgoingMail)))


def test_an_acknowledgement_is_drafted_recorded_sent_and_recorded_once(service, settings, mailer, double):
    """On receipt: one draft to the requester's address with the row's marker, sent, and one
    `message-sent` entry naming the request, the Graph message and the template; a second run sends nothing."""
    request_id = receive(service, settings, email="ada@example.org")
    report = mailer.run()
    assert report["planned"]["acknowledgement"] == 1 and report["outcomes"] == {"sent": 1}
    [message] = double.sent
    [row] = rows(service)
    assert message.to == "ada@example.org" and request_id in message.subject and message.marker == row.id
    assert row.state == "sent" and row.draft_id == message.id
    [entry] = sent_entries(service)
    assert entry["refs"] == {"request": request_id, "message": message.id, "mail": row.id}
    assert entry["template"] == "acknowledgement" and "ada@" not in json.dumps(entry)
    assert mailer.run()["outcomes"] == {} and len(double.sent) == 1


@pytest.mark.parametrize("window", ["after create_draft", "before send_draft", "after send_draft", "timeout on create"])
def test_a_process_dying_in_any_window_is_settled_without_a_second_send(service, settings, mailer, double, control, window):
    """Killed after Graph made the draft (its id unrecorded), after the send was claimed but before
    it left, after Graph sent it (unrecorded), or a create that timed out: nothing happens while the
    claim is fresh; once stale, the draft is looked for by its marker and the message goes exactly once."""
    receive(service, settings, email="ada@example.org")
    where, call = window.split(" ", 1)
    if where == "timeout":
        double.unknown_after = "create_draft"
        assert mailer.run()["outcomes"] == {"unknown": 1}
    else:
        setattr(double, f"die_{where}", call)
        with pytest.raises(Died):
            mailer.run()
    assert mailer.run()["outcomes"] == {}                      # a fresh claim is another sender's: left alone
    control.advance(seconds=CLAIM_TIMEOUT.total_seconds() + 1)
    mailer.run()
    assert len(double.sent) == 1 and double.drafts == {}
    assert double.calls.count("create_draft") == 1             # the draft was found, never made twice
    [row] = rows(service)
    assert row.state == "sent"
    [entry] = sent_entries(service)
    assert entry.get("settled") is (True if window == "after send_draft" else None)
    control.advance(seconds=CLAIM_TIMEOUT.total_seconds() + 1)
    assert mailer.run()["outcomes"] == {} and len(double.sent) == 1


def test_a_request_with_only_a_telephone_number_gets_no_mail(service, settings, mailer, double):
    receive(service, settings, phone="+353 1 555 0100")
    assert mailer.run()["outcomes"] == {"skipped": 1}
    assert double.sent == [] and sent_entries(service) == []
    assert rows(service)[0].detail == "no-email-address"


def test_the_working_state_and_the_logs_hold_no_address(service, settings, mailer, double, db, control, caplog):
    """The address is read from the ledger when the draft is made and lives only in Graph: not in
    the rows, not in a log line, not even when a dead process's row is settled."""
    caplog.set_level("DEBUG")
    receive(service, settings, email="grace.hopper@example.org")
    double.die_after = "send_draft"
    with pytest.raises(Died):
        mailer.run()
    control.advance(seconds=CLAIM_TIMEOUT.total_seconds() + 1)
    mailer.run()
    assert "grace" not in caplog.text.lower() and "settled" in caplog.text
    with db.connect() as connection:
        dumped = json.dumps([list(r) for r in connection.execute(text("SELECT * FROM outgoing_mail"))], default=str)
    assert "grace" not in dumped.lower() and double.sent[0].to == "grace.hopper@example.org"


def test_planning_twice_plans_once(service, settings, mailer):
    receive(service, settings, email="ada@example.org")
    assert mailer.plan_due()["acknowledgement"] == 1
    assert mailer.plan_due()["acknowledgement"] == 0
    with service.ledger.transaction() as tx:
        assert outgoing_mail.counts(tx.session, "x") == {}
