"""Demo requests in a privacy mailbox: deterministic mails from seeded customers, and one auto-reply.

Each mail asks for one kind of data-subject request in plain words (access, erasure, correction,
objection, opt-out), from a customer of a seeded business when there is one, so a demo can follow
a request from the Inbox to the records it names. The auto-reply (``Auto-Submitted:
auto-replied``) is there for a reader to ignore. Delivered through the transport, so message
subscriptions hear them like any arrival.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from .transport import deliver

if TYPE_CHECKING:
    from .core import Emulator

REQUESTS = [("Access request", "Please send me a copy of all the personal data you hold about me."),
            ("Please delete my data", "I would like you to erase my personal data and my booking history."),
            ("Wrong phone number", "My phone number on file is wrong; please correct it."),
            ("Objection", "I object to you using my data for anything other than my appointments."),
            ("Do not sell my personal information", "Please do not sell or share my personal information.")]


def seed_privacy_mail(core: Emulator, mailbox: str, *, seed: int, requests: int) -> list[str]:
    """Deliver ``requests`` request mails and one auto-reply to ``mailbox``; returns the message ids."""
    rng = random.Random(seed)
    with core.store.lock:
        senders = sorted(c["emailAddress"] for b in core.store.businesses.values()
                         for c in b.collections["customers"].items.values() if c.get("emailAddress"))
    ids = []
    for number in range(requests):
        subject, text = REQUESTS[number % len(REQUESTS)]
        sender = rng.choice(senders) if senders else f"requester{number + 1}@example.org"
        ids.append(deliver(core, mailbox.lower(), sender=sender, subject=subject,
                           body={"contentType": "html", "content": f"<html><body><p>{text}</p><p>Thank you</p></body></html>"}).data["id"])
    if requests:
        ids.append(deliver(core, mailbox.lower(), sender="out-of-office@example.org", subject="Automatic reply: Your request",
                           body={"contentType": "text", "content": "I am out of the office until Monday."},
                           headers=[{"name": "Auto-Submitted", "value": "auto-replied"}]).data["id"])
    return ids
