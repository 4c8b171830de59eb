"""Mail of one mailbox (the privacy mailbox): reading its Inbox, and drafts sent at most once.

Reading (privacy-facts §1.4–1.5) needs Mail.Read: Mail.ReadBasic gives no body. Bodies come
as text (`Prefer: outlook.body-content-type="text"`), ids as immutable ids, so a message keeps
its id when someone files it away, and `internetMessageHeaders` only because it is selected.

Sending (§1.8) is never sendMail: it returns 202 without an id and cannot be made idempotent.
A draft is created with a marker header, its id recorded by the caller, then sent:

    draft_id = mail.create_draft(mailbox, [address], subject, text, marker=row_id)   # POST: never re-sent
    ...record draft_id...
    mail.send_draft(mailbox, draft_id)       # NotFound: sent already (or deleted)

After a crash between the two, `find_draft(mailbox, marker)` finds a draft whose id was never
recorded (Graph keeps custom `x-` headers given at creation).
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from .models import MailMessage
from .parse import parse_message
from .session import GraphSession

MARKER_HEADER = "x-bookings-ledger-message"
_FIELDS = "id,receivedDateTime,subject,from,sender,body,internetMessageHeaders"
_READ = {"Prefer": 'outlook.body-content-type="text", IdType="ImmutableId"'}
_IMMUTABLE = {"Prefer": 'IdType="ImmutableId"'}
_PAGE = "50"   # messages per page of a catch-up; Graph's default is 10


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("messages_since needs a timezone-aware moment")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Mail:
    """Messages and drafts of user mailboxes; every method is synchronous and thread-safe."""

    def __init__(self, session: GraphSession) -> None:
        self._session = session

    @staticmethod
    def _path(user: str, *tail: str) -> str:
        return "/".join(("/users", quote(user, safe="@"), *(quote(t, safe="") for t in tail)))

    def messages_since(self, user: str, since: datetime) -> Iterator[MailMessage]:
        """The Inbox's messages received at or after `since`, oldest first, page by page."""
        params = {"$filter": f"receivedDateTime ge {_iso(since)}", "$orderby": "receivedDateTime asc",
                  "$select": _FIELDS, "$top": _PAGE}
        return self._session.items(self._path(user, "mailFolders", "Inbox", "messages"), parse_message,
                                   mailbox=user, params=params, headers=_READ)

    def message(self, user: str, message_id: str) -> MailMessage:
        """One message, with its text body, sender and internet message headers."""
        found = self._session.get(self._path(user, "messages", message_id), mailbox=user,
                                  params={"$select": _FIELDS}, headers=_READ)
        return parse_message(found)

    def create_draft(self, user: str, to: str | Sequence[str], subject: str, text: str, *, marker: str) -> str:
        """Create a plain-text draft to `to` in the mailbox's Drafts, carrying `marker` in the
        `x-bookings-ledger-message` header; its id. A POST: a timeout raises OutcomeUnknown, and
        `find_draft` tells whether it was made."""
        recipients = (to,) if isinstance(to, str) else tuple(to)
        draft: dict[str, Any] = {
            "subject": subject,
            "body": {"contentType": "Text", "content": text},
            "toRecipients": [{"emailAddress": {"address": address}} for address in recipients],
            "internetMessageHeaders": [{"name": MARKER_HEADER, "value": marker}],
        }
        created = self._session.send("POST", self._path(user, "messages"), mailbox=user, body=draft, headers=_IMMUTABLE)
        return str(created["id"])

    def find_draft(self, user: str, marker: str) -> str | None:
        """The id of the draft in Drafts carrying `marker`, or None (never made, sent or deleted)."""
        params = {"$select": "id,internetMessageHeaders", "$top": _PAGE}
        for page in self._session.pages(self._path(user, "mailFolders", "Drafts", "messages"), mailbox=user,
                                        params=params, headers=_IMMUTABLE):
            for item in page.get("value", ()):
                if any(h.get("name", "").lower() == MARKER_HEADER and h.get("value") == marker
                       for h in item.get("internetMessageHeaders") or ()):
                    return str(item["id"])
        return None

    def send_draft(self, user: str, draft_id: str) -> None:
        """Send a draft (202; it moves to Sent Items). NotFound: it was sent already or deleted;
        a timeout raises OutcomeUnknown and is never re-sent."""
        self._session.send("POST", self._path(user, "messages", draft_id, "send"), mailbox=user)

    def delete_draft(self, user: str, draft_id: str) -> None:
        """Delete a draft; NotFound means it is gone already."""
        self._session.send("DELETE", self._path(user, "messages", draft_id), mailbox=user)
