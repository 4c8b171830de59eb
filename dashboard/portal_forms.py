"""What the public privacy page asks for each request type, and how a submitted form is read.

A form's answer depends on what was typed and nothing else: it is checked for shape only (an
address that looks like one, lengths), never against what the service holds, so a refusal tells
nobody whether an address is known.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from werkzeug.datastructures import MultiDict

from ledger.requests import Intake

# A person's address: something@domain.tld, without spaces; what a mail server will try, not RFC 5322.
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}$")
PHONE = re.compile(r"^\+?[0-9 ().-]{6,24}$")
MAX_EMAIL, MAX_TEXT = 254, 2000
CORRECTABLE = {"name": "Your name as it should be", "email": "Your email address as it should be",
               "phone": "Your telephone number as it should be"}


@dataclass(frozen=True)
class RequestPage:
    """How the page names a request type and explains it."""

    title: str
    explanation: str
    corrections: bool = False


REQUEST_PAGES = {
    "access": RequestPage("See the data we hold about you", "We send you a copy of the personal data we hold "
                          "about you and explain how we use it."),
    "portability": RequestPage("Take your data elsewhere", "We send you the data you gave us in a structured, "
                               "machine-readable file (JSON and CSV)."),
    "rectification": RequestPage("Correct your data", "Tell us what is wrong and what it should be; we correct "
                                 "it in our records and in the booking system.", corrections=True),
    "erasure": RequestPage("Delete your data", "We delete your personal data, except what the law makes us keep, "
                           "and tell you what we kept and why."),
    "restriction": RequestPage("Restrict how we use your data", "We keep your data but use it for nothing "
                               "else until the restriction is lifted."),
    "objection": RequestPage("Object to how we use your data", "Object to a use of your data, marketing "
                             "included; an objection to marketing is honoured for good."),
    "opt-out": RequestPage("Opt out of marketing and sale", "Stop marketing to you and any sale or sharing of "
                           "your data. An opt-out needs no verification."),
    "child-erasure": RequestPage("Delete your child’s data", "As a parent or guardian, ask us to delete your "
                                 "child’s data. Our privacy officer checks with you that you are the parent."),
}


@dataclass(frozen=True)
class ReadForm:
    """A submitted form: the intake to receive, or the problems to show (by field name)."""

    intake: Intake | None
    problems: dict[str, str] = field(default_factory=dict)


def read_request_form(request_type: str, form: MultiDict[str, str]) -> ReadForm:
    """The portal intake of a filled form, or what is wrong with it."""
    email, phone, text = form.get("email", "").strip(), form.get("phone", "").strip(), form.get("details", "").strip()
    problems = {}
    if len(email) > MAX_EMAIL or not EMAIL.match(email):
        problems["email"] = "Enter the email address we should answer you at, like name@example.org."
    if phone and not PHONE.match(phone):
        problems["phone"] = "Enter a telephone number with digits only (spaces, +, -, brackets allowed), or leave it empty."
    if len(text) > MAX_TEXT:
        problems["details"] = f"Keep the details under {MAX_TEXT} characters."
    corrections = {}
    if REQUEST_PAGES[request_type].corrections:
        corrections = {name: form.get(f"correction.{name}", "").strip() for name in CORRECTABLE}
        corrections = {name: value[:MAX_TEXT] for name, value in corrections.items() if value}
        if not corrections:
            problems["corrections"] = "Tell us at least one thing to correct."
    if problems:
        return ReadForm(None, problems)
    return ReadForm(Intake(request_type, "portal", email=email, phone=phone or None, text=text or None,
                           corrections=corrections))
