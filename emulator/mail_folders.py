"""``GET /v1.0/users/{id}/mailFolders/{folder}/messages``: a mailbox's Inbox, as the privacy mailbox is read.

Messages arrive through the control API (``POST /_emulator/mailboxes/{id}/messages``); the one
folder is the well-known ``inbox``. Like sendMail, any SMTP address is a mailbox (there is no
user directory). App permissions (privacy-facts §1.4–1.5): Mail.ReadBasic(.All), Mail.Read or
Mail.ReadWrite; with Mail.ReadBasic alone the body, bodyPreview and uniqueBody are left out.
Newest first, ``$top`` and ``$select`` honoured.
"""

from __future__ import annotations

import threading
from urllib.parse import quote

from flask import Blueprint, Response, request

from .errors import GraphError, bad_request
from .identity import requires
from .responses import collection, emulator, graph_json
from .timefmt import iso_utc

bp = Blueprint("mail_folders", __name__, url_prefix="/v1.0/users/<user>/mailFolders/<folder>")
READ_MAIL = ("Mail.ReadBasic", "Mail.ReadBasic.All", "Mail.Read", "Mail.ReadWrite")
READ_BODIES = ("Mail.Read", "Mail.ReadWrite")
BODY_FIELDS = ("body", "bodyPreview", "uniqueBody")
WELL_KNOWN = "inbox"


class Inboxes:
    """The Inbox of each mailbox, keyed by lower-cased address, oldest first."""

    def __init__(self) -> None:
        self._messages: dict[str, list[dict]] = {}
        self._lock = threading.Lock()

    def deliver(self, user: str, message: dict) -> None:
        """Put one message (already given its id and receivedDateTime) in the mailbox's Inbox."""
        with self._lock:
            self._messages.setdefault(user.lower(), []).append(message)

    def newest_first(self, user: str) -> list[dict]:
        """The mailbox's Inbox, newest first."""
        with self._lock:
            return list(reversed(self._messages.get(user.lower(), [])))

    def clear(self) -> None:
        """Empty every Inbox."""
        with self._lock:
            self._messages.clear()


def received(text: str, sender: str, subject: str) -> dict:
    """A message as Graph renders it, arriving now (for the control API)."""
    core = emulator()
    return {"id": core.ids.guid(), "receivedDateTime": iso_utc(core.clock.now()), "subject": subject,
            "bodyPreview": text[:255], "body": {"contentType": "text", "content": text}, "isRead": False,
            "from": {"emailAddress": {"address": sender}}}


@bp.get("/messages")
@requires(READ_MAIL)
def list_messages(user: str, folder: str) -> Response:
    """The folder's messages; only the Inbox exists."""
    if folder.lower() != WELL_KNOWN:
        raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    core = emulator()
    top = request.args.get("$top", "10")
    if not top.isdigit() or int(top) < 1:
        raise bad_request(f"Invalid value '{top}' for $top.")
    with_bodies = bool(set(READ_BODIES) & set(core.options.granted_permissions))
    wanted = [name.strip() for name in request.args.get("$select", "").split(",") if name.strip()]
    messages = [_shown(message, with_bodies, wanted) for message in core.inboxes.newest_first(user)[:int(top)]]
    fragment = f"users('{quote(user, safe='')}')/mailFolders('{folder}')/messages"
    return graph_json(collection(fragment, messages, None))


def _shown(message: dict, with_bodies: bool, wanted: list[str]) -> dict:
    shown = {name: value for name, value in message.items() if with_bodies or name not in BODY_FIELDS}
    return {name: value for name, value in shown.items() if name == "id" or name in wanted} if wanted else shown
