"""Request mail over real HTTP against the emulator: drafted with the marker header, sent from the
privacy mailbox, in the outbox once; a process SIGKILLed between draft and send (and between send
and record) is settled by its draft, never sent twice; throttling is waited out, then resumed."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bookings_ledger.wiring import mail_services
from config import load_settings
from config.settings import SettingsError
from connector import GraphConnector, RetryPolicy, StaticCredential
from jobs.mail_sender import CLAIM_TIMEOUT
from jobs.request_mail import RequestMailer
from ledger import requests
from ledger.requests import Intake, RequestRules
from state.outgoing_mail import OutgoingMail

MAILBOX = "privacy@contoso.com"
MARKER = "x-bookings-ledger-message"
DRIVER = Path(__file__).with_name("request_mail_driver.py")
CREATE, SEND = "POST /users/{id}/messages", "POST /users/{id}/messages/{id}/send"


@pytest.fixture
def overrides(service: Any) -> dict[str, str]:
    return {**service.settings, "PRIVACY_MAILBOX": MAILBOX}


@pytest.fixture
def mailer(service: Any, overrides: dict[str, str], graph: GraphConnector) -> RequestMailer:
    return RequestMailer(service.ledger, graph, load_settings(overrides))


def receive(service: Any, overrides: dict[str, str], email: str = "ada@example.org") -> str:
    with service.ledger.transaction() as tx:
        return requests.receive(tx, Intake("erasure", "portal", email=email),
                                RequestRules.from_settings(load_settings(overrides))).request_id


def outbox(control: Any) -> list[dict[str, Any]]:
    return control.call("GET", "/outbox")


def headers(message: dict[str, Any]) -> dict[str, str]:
    return {h["name"].lower(): h["value"] for h in message.get("headers") or ()}


def kill_at(overrides: dict[str, str], call: str) -> int:
    """Run the mailer in a process of its own that SIGKILLs itself right after Graph answered `call`."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(DRIVER.parents[2]), str(DRIVER.parent)])}
    return subprocess.run([sys.executable, str(DRIVER), json.dumps(overrides), call, "1"], env=env, timeout=120).returncode


def test_an_acknowledgement_goes_from_the_privacy_mailbox_once_with_its_marker(service, overrides, mailer, control):
    request_id = receive(service, overrides)
    assert mailer.run()["outcomes"] == {"sent": 1}
    [message] = outbox(control)
    assert message["from"].lower() == MAILBOX and message["recipients"] == ["ada@example.org"]
    assert request_id in message["subject"]
    with service.ledger.transaction() as tx:
        [row] = tx.session.scalars(select(OutgoingMail))
    assert headers(message)[MARKER] == row.id
    assert mailer.run()["outcomes"] == {} and len(outbox(control)) == 1


@pytest.mark.parametrize("call", [CREATE, SEND])
def test_a_mailer_killed_between_draft_and_send_or_send_and_record_sends_once(service, overrides, mailer, control, graph,
                                                                            call):
    """SIGKILLed right after Graph made the draft (its id never recorded) or right after Graph sent
    it (never recorded as sent): the next run leaves the fresh claim alone; once it is stale, the
    draft found by its marker is sent (or found gone, so recorded as sent), and the person gets one mail."""
    receive(service, overrides)
    assert kill_at(overrides, call) == -9
    assert len(outbox(control)) == (1 if call == SEND else 0)
    mailer.run()
    assert len(outbox(control)) == (1 if call == SEND else 0)
    control.advance(seconds=CLAIM_TIMEOUT.total_seconds() + 1)
    mailer.run()
    control.advance(seconds=CLAIM_TIMEOUT.total_seconds() + 1)
    mailer.run()
    [message] = outbox(control)
    assert message["recipients"] == ["ada@example.org"]
    with service.ledger.transaction() as tx:
        [row] = tx.session.scalars(select(OutgoingMail))
    assert row.state == "sent" and graph.mail.find_draft(MAILBOX, row.id) is None


def test_throttling_is_waited_out_and_a_spent_budget_resumes_next_run(service, overrides, control, emulator):
    """Graph's 429s are honoured (Retry-After) by the connector; when its budget runs out the row goes
    back, the run stops, and the next run sends it: once."""
    receive(service, overrides)
    control.call("POST", "/faults", {"requests": [{"status": 429, "count": 50, "retry_after": 0.01, "route": "/messages",
                                                   "method": "POST"}]})
    impatient = RetryPolicy(max_attempts=2, max_total=1.0, backoff_base=0.01, backoff_max=0.02, jitter=0.0)
    with GraphConnector(base_url=emulator.graph_url, credential=StaticCredential(), policy=impatient) as graph:
        report = RequestMailer(service.ledger, graph, load_settings(overrides)).run()
    assert report["throttled"] is True and outbox(control) == []
    control.call("DELETE", "/faults")
    with GraphConnector(base_url=emulator.graph_url, credential=StaticCredential(), policy=impatient) as graph:
        assert RequestMailer(service.ledger, graph, load_settings(overrides)).run()["outcomes"] == {"sent": 1}
    assert len(outbox(control)) == 1


def test_the_mail_jobs_exist_only_with_a_privacy_mailbox_and_a_broken_template_stops_the_start(service, overrides, graph,
                                                                                            tmp_path):
    assert mail_services(load_settings(service.settings), service.ledger, graph) is None
    assert mail_services(load_settings(overrides), service.ledger, graph) is not None
    with pytest.raises(SettingsError, match="MAIL_TEMPLATES_DIR"):
        mail_services(load_settings({**overrides, "MAIL_TEMPLATES_DIR": str(tmp_path)}), service.ledger, graph)
