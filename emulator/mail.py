"""``POST /v1.0/users/{id}/sendMail``: 202 without a body; sent messages kept for the control API.

The outbox also holds the drafts sent with ``…/messages/{id}/send`` (messages_api.py) and the mail
Bookings sends itself (bookings_mail.py); every entry has a ``kind`` (``sendMail``, ``send`` or
``cancellation``) and its ``recipients`` addresses, so a test can ask whether an address was
mailed at all. Mail sent from a mailbox has ``from``, ``subject``, ``text`` and ``headers``.

Graph (user-sendmail): the body is ``{"message": {subject, body{contentType, content},
toRecipients[{emailAddress{address}}]}, "saveToSentItems": bool}``; the app needs Mail.Send.
The emulator has no user directory, so any SMTP address or known mailbox may send.
"""

from __future__ import annotations

import threading

from flask import Blueprint, Response

from . import identity
from .errors import bad_request
from .identity import requires
from .message_input import RECIPIENT_LISTS, body_fields, custom_headers, no_recipients, recipient_list
from .responses import emulator, json_body
from .transport import send

bp = Blueprint("mail", __name__, url_prefix="/v1.0/users/<user>")


class Outbox:
    """Mail sent through sendMail or by Bookings, oldest first."""

    def __init__(self) -> None:
        self._sent: list[dict] = []
        self._lock = threading.Lock()

    def add(self, entry: dict) -> None:
        """Keep one sent message."""
        with self._lock:
            self._sent.append(entry)

    def listed(self, *, kind: str | None = None, recipient: str | None = None) -> list[dict]:
        """Sent mail, optionally of one kind or to one address (case-insensitive)."""
        wanted = recipient.lower() if recipient else None
        with self._lock:
            return [entry for entry in self._sent if (kind is None or entry["kind"] == kind)
                    and (wanted is None or wanted in (r.lower() for r in entry["recipients"]))]

    def clear(self) -> None:
        """Forget all messages."""
        with self._lock:
            self._sent.clear()


@bp.post("/sendMail")
@requires(identity.SEND_MAIL)
def send_mail(user: str) -> Response:
    """Validate the message, send it (Sent Items unless ``saveToSentItems`` is false), answer 202 with no body."""
    body = json_body()
    message = _validated(body.get("message"))
    save = body.get("saveToSentItems", True)
    if not isinstance(save, bool):
        raise bad_request("saveToSentItems must be a boolean.", "ErrorInvalidRequest")
    core = emulator()
    headers = custom_headers(message.get("internetMessageHeaders"))
    send(core, core.mail.address(core.mailboxes.mailbox_key(user)), message, headers, kind="sendMail", draft_id=None, save=save)
    return Response(status=202)


def _validated(message: object) -> dict:
    """The message, or Graph's 400 for a malformed one (no recipients is checked first)."""
    if not isinstance(message, dict):
        raise bad_request("The message is required.", "ErrorInvalidRequest")
    if not message.get("toRecipients"):  # Graph's answer to {"message": {}}
        raise no_recipients()
    for part in RECIPIENT_LISTS:
        recipient_list(message.get(part))
    body_fields(message.get("body"))
    custom_headers(message.get("internetMessageHeaders"))
    if not isinstance(message.get("subject", ""), str):
        raise bad_request("The message subject must be a string.", "ErrorInvalidRequest")
    return message
