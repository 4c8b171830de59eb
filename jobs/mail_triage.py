"""What a message in the privacy mailbox is: mail to ignore, or a request of some type.

Pure functions of a `connector.models.MailMessage`, so the rules are tested without Graph.

Ignored (each a reason code, stored in `mailbox_messages`, never the message):

    bounce      a non-delivery report: Exchange's NDR header or a multipart/report
                (privacy-facts §1.8: NDRs of our own sends land in this Inbox), or mail from
                postmaster@ / mailer-daemon@
    auto-reply  RFC 3834 `Auto-Submitted` other than "no", Outlook's `X-Auto-Response-Suppress`
                is *not* one (it asks others not to answer), the de-facto `X-Autoreply`,
                `X-Autorespond` and `Precedence: auto_reply|bulk|junk|list`
    own         carries our marker header (jobs/request_mail.py's drafts), or comes from the
                privacy mailbox itself: answering it would loop
    no-sender   nobody to answer

Everything else becomes a *draft* the privacy officer confirms (with the type corrected if the
guess was wrong) or discards: a mailbox receives questions and replies too, and the guess below
only saves the officer a choice.
"""
from __future__ import annotations

import re

from connector.mail import MARKER_HEADER
from connector.models import MailMessage

_BOUNCERS = frozenset({"postmaster", "mailer-daemon"})
_BULK = frozenset({"auto_reply", "bulk", "junk", "list"})
# Most specific first: "delete my child's data" is a child-erasure, not an erasure; "opt out"
# before "object", since an opt-out of marketing is the narrower (and unverified) request.
_GUESSES = (
    ("child-erasure", r"\b(my (son|daughter|child)|children|child's|parent(al)?)\b"),
    ("opt-out", r"\b(opt[- ]?out|unsubscribe|do not (sell|share)|don't (sell|share)|stop (sending|marketing)|marketing)\b"),
    ("erasure", r"\b(eras(e|ure)|delet(e|ion)|remove my|forget me|forgotten)\b"),
    ("rectification", r"\b(rectif\w*|correct(ion)?|wrong|inaccurate|out of date|update my)\b"),
    ("restriction", r"\brestrict\w*\b"),
    ("objection", r"\bobject(ion)?\b"),
    ("portability", r"\b(portab\w*|transfer my|machine[- ]readable|another (provider|service))\b"),
    ("access", r"\b(access|copy of|what (data|information)|subject access|right to know)\b"),
)
_PATTERNS = tuple((request_type, re.compile(pattern, re.IGNORECASE)) for request_type, pattern in _GUESSES)
DEFAULT_TYPE = "access"   # the commonest request, and the one whose wrong guess costs nothing


def why_ignored(message: MailMessage, mailbox: str) -> str | None:
    """The reason code to ignore the message for, or None when it may be a request."""
    sender = (message.sender or "").strip().lower()
    if message.is_ndr or sender.split("@", 1)[0] in _BOUNCERS:
        return "bounce"
    if message.header(MARKER_HEADER) is not None or sender == mailbox.lower():
        return "own"
    auto = (message.header("Auto-Submitted") or "no").strip().lower()
    if auto != "no" or message.header("X-Autoreply") or message.header("X-Autorespond") \
            or (message.header("Precedence") or "").strip().lower() in _BULK:
        return "auto-reply"
    if not sender or "@" not in sender:
        return "no-sender"
    return None


def guess_type(message: MailMessage) -> str:
    """The request type the subject and text most likely ask for (DEFAULT_TYPE when nothing says)."""
    words = f"{message.subject or ''}\n{message.text or ''}"
    return next((request_type for request_type, pattern in _PATTERNS if pattern.search(words)), DEFAULT_TYPE)
