"""Which privacy-mailbox messages are ignored, and which request type a message is guessed to be."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from connector.models import MailMessage
from jobs.mail_triage import DEFAULT_TYPE, guess_type, why_ignored

MAILBOX = "privacy@contoso.com"


def message(*, sender: str | None = "ann@example.org", subject: str = "", text: str = "",
            headers: tuple[tuple[str, str], ...] = (), is_ndr: bool = False) -> MailMessage:
    return MailMessage(id="m1", received_at=datetime(2024, 3, 1, tzinfo=timezone.utc), sender=sender,
                       subject=subject, text=text, headers=headers, is_ndr=is_ndr)


@pytest.mark.parametrize("mail, reason", [
    (message(is_ndr=True), "bounce"),
    (message(sender="postmaster@contoso.com"), "bounce"),
    (message(sender="MAILER-DAEMON@mx.example.org"), "bounce"),
    (message(headers=(("Auto-Submitted", "auto-replied"),)), "auto-reply"),
    (message(headers=(("auto-submitted", "auto-generated"),)), "auto-reply"),
    (message(headers=(("X-Autoreply", "yes"),)), "auto-reply"),
    (message(headers=(("Precedence", "bulk"),)), "auto-reply"),
    (message(headers=(("x-bookings-ledger-message", "row-7"),)), "own"),
    (message(sender="Privacy@Contoso.com"), "own"),
    (message(sender=None), "no-sender"),
    (message(sender="not-an-address"), "no-sender"),
])
def test_mail_that_is_no_request_is_ignored_with_its_reason(mail: MailMessage, reason: str) -> None:
    assert why_ignored(mail, MAILBOX) == reason


@pytest.mark.parametrize("headers", [(), (("Auto-Submitted", "no"),), (("X-Auto-Response-Suppress", "All"),),
                                     (("Precedence", "first-class"),)])
def test_a_person_s_mail_is_not_ignored(headers: tuple[tuple[str, str], ...]) -> None:
    assert why_ignored(message(headers=headers, text="Please erase my data"), MAILBOX) is None


@pytest.mark.parametrize("subject, text, expected", [
    ("Delete my account", "", "erasure"),
    ("", "Please erase everything you hold about me.", "erasure"),
    ("", "I want you to delete my daughter's booking data.", "child-erasure"),
    ("Unsubscribe", "", "opt-out"),
    ("", "Do not sell my personal information.", "opt-out"),
    ("", "My phone number is wrong, please correct it.", "rectification"),
    ("", "Please restrict processing of my data.", "restriction"),
    ("", "I object to this processing.", "objection"),
    ("", "Send my data in a machine-readable format to another provider.", "portability"),
    ("Subject access request", "", "access"),
    ("Hello", "What time do you open?", DEFAULT_TYPE),
])
def test_the_request_type_is_guessed_from_subject_and_text(subject: str, text: str, expected: str) -> None:
    assert guess_type(message(subject=subject, text=text)) == expected


def test_a_ndr_header_or_a_report_makes_a_message_a_bounce() -> None:
    from connector.parse import parse_message

    base = {"id": "m", "from": {"emailAddress": {"address": "x@example.org"}}}
    assert parse_message({**base, "internetMessageHeaders": [{"name": "X-MS-Exchange-Message-Is-Ndr", "value": ""}]}).is_ndr
    assert parse_message({**base, "internetMessageHeaders": [
        {"name": "Content-Type", "value": 'multipart/report; report-type=delivery-status'}]}).is_ndr
    assert not parse_message({**base, "internetMessageHeaders": [{"name": "Content-Type", "value": "text/plain"}]}).is_ndr
