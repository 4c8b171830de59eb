"""No answer and no work of the public privacy page tells an outsider whether an address is known.

A known address is one the ledger holds for a customer (collected, blind-indexed, as ingestion
does); an unknown one was never seen. For each, the same submission is sent from a fresh visitor,
and what comes back is compared byte for byte once the random parts (the challenge id, the CSRF
token) are masked; the SQL the request runs is compared statement by statement, so a lookup on
the request path (a query only a known address triggers, or one with another shape) shows up.
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import event

from portal_helpers import mail_challenges, portal_app, post, submit  # noqa: F401

KNOWN, UNKNOWN = "ada.lovelace@example.org", "nobody.ever@example.net"
RANDOM_PARTS = re.compile(r"chl_[A-Za-z0-9_-]+|name=\"csrf_token\" value=\"[^\"]+\"")


@pytest.fixture
def known_customer(portal_app):
    """A customer of a business whose email is the KNOWN address, as ingestion collects one."""
    ledger = portal_app.extensions["bookings_ledger.dashboard"].ledger
    with ledger.transaction() as tx:
        customer = tx.new_subject()
        tx.collect(customer, {"email": KNOWN, "name": "Ada Lovelace"}, categories={"email": "contact", "name": "identity"},
                   purpose="appointment", refs={"appointment": "appt-1"})
    return customer


def _masked(response) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = [(name, RANDOM_PARTS.sub("*", value)) for name, value in response.headers
               if name not in ("Set-Cookie", "Date", "X-Request-Id")]
    return response.status_code, headers, RANDOM_PARTS.sub("*", response.get_data(as_text=True)).encode()


class Statements(list):
    """The SQL text of every statement the app's engine runs while recording."""

    def __init__(self, engine) -> None:
        super().__init__()
        self.recording = False
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _connection, _cursor, statement, _parameters, _context, _many) -> None:
        if self.recording:
            self.append(statement)


def _journey(app, email: str, statements: Statements, request_type: str = "erasure"):
    """Everything an outsider sees of a submission for `email`, and the SQL it ran."""
    client = app.test_client()
    client.get(f"/privacy/requests/new/{request_type}")
    statements.clear()
    statements.recording = True
    answer = submit(app, client, request_type, email=email)
    statements.recording = False
    work = list(statements)
    code_page = client.get(answer.headers["Location"]) if answer.status_code == 303 else answer
    wrong = post(app, client, answer.headers["Location"], code="000000") if answer.status_code == 303 else answer
    return [_masked(answer), _masked(code_page), _masked(wrong)], work


@pytest.mark.parametrize("request_type", ["erasure", "access", "opt-out"])
def test_a_known_and_an_unknown_address_get_the_same_answers_byte_for_byte(portal_app, known_customer, request_type):
    statements = Statements(portal_app.extensions["bookings_ledger.dashboard"].engine)
    known, _ = _journey(portal_app, KNOWN, statements, request_type)
    unknown, _ = _journey(portal_app, UNKNOWN, statements, request_type)
    assert known == unknown


def test_a_known_and_an_unknown_address_cost_the_same_statements(portal_app, known_customer):
    """The same SQL, in the same order, with the same shape: nothing looks the address up."""
    statements = Statements(portal_app.extensions["bookings_ledger.dashboard"].engine)
    _, known = _journey(portal_app, KNOWN, statements)
    _, unknown = _journey(portal_app, UNKNOWN, statements)
    assert known and known == unknown


def test_both_addresses_are_mailed_a_code(portal_app, known_customer):
    """The same work after the answer too: a challenge is wanted (and so mailed) for each."""
    for email in (KNOWN, UNKNOWN):
        submit(portal_app, portal_app.test_client(), email=email)
    assert len(mail_challenges(portal_app)) == 2
