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
    headers = [dict(h) for h in message.get("internetMessageHeaders") or [] if isinstance(h, dict)]
    send(core, core.mail.address(core.mailboxes.mailbox_key(user)), message, headers, kind="sendMail", draft_id=None, save=save)
    return Response(status=202)


def _validated(message: object) -> dict:
    """The message, or Graph's 400 for a malformed one."""
    if not isinstance(message, dict):
        raise bad_request("The message is required.", "ErrorInvalidRequest")
    recipients = message.get("toRecipients")
    if not recipients:  # Graph's answer to {"message": {}} (php-connect-rest-sample#39, msgraph-sdk-dotnet#1891)
        raise bad_request("At least one recipient isn't valid., A message can't be sent because it contains no recipients.",
                          "ErrorInvalidRecipients")
    if not isinstance(recipients, list) or not all(
            isinstance(r, dict) and "@" in str((r.get("emailAddress") or {}).get("address", "")) for r in recipients):
        raise bad_request("At least one recipient is not valid., Recipient is missing.", "ErrorInvalidRecipients")
    content = message.get("body", {})
    if not isinstance(content, dict) or str(content.get("contentType", "text")).lower() not in ("text", "html"):
        raise bad_request("The message body contentType must be text or html.", "ErrorInvalidRequest")
    if not isinstance(message.get("subject", ""), str):
        raise bad_request("The message subject must be a string.", "ErrorInvalidRequest")
    return message
