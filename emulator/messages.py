"""Outlook mail of every mailbox: folders, messages and their changes, as Graph renders them.

privacy-facts §1.4–1.8. Any SMTP address is a mailbox (there is no user directory); a business's
scheduling mailbox is the same mailbox under its user id. The folders are the well-known Inbox,
Drafts, Sent Items and Deleted Items, named in URLs case-insensitively or by their id. An item
moved between folders gets a **new id**, as Outlook's default ids do (graph-facts §2.2): a sent
draft's id, or a deleted one's, is then unknown (404). ``listeners`` hear ``created`` (arrival in
a folder), ``updated`` and ``deleted`` (leaving a folder) with the mailbox, its user id and the message,
for the subscriptions.
"""

from __future__ import annotations

import hashlib
import html
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .clock import Clock
from .errors import not_found
from .ids import IdFactory

# Well-known folder name (lower case) -> display name.
FOLDERS = {"inbox": "Inbox", "drafts": "Drafts", "sentitems": "Sent Items", "deleteditems": "Deleted Items"}
# Left out without Mail.Read(Write) (privacy-facts §1.5); uniqueBody and internetMessageHeaders only when $selected.
BODY_FIELDS = ("body", "bodyPreview", "uniqueBody")
SELECTED_ONLY = ("uniqueBody", "internetMessageHeaders")
MessageListener = Callable[[str, str, str, "StoredMessage"], None]  # (changeType, mailbox, user id, message)


@dataclass
class StoredMessage:
    """One message: its Graph JSON (without the $select-only fields), folder and MIME headers."""

    folder: str
    data: dict
    headers: list[dict] = field(default_factory=list)


class MailStore:
    """Every mailbox's messages, keyed by lower-cased address, in arrival order."""

    def __init__(self, clock: Clock, ids: IdFactory, user_id_of: Callable[[str], str | None]) -> None:
        self.clock = clock
        self.ids = ids
        self.listeners: list[MessageListener] = []
        self._user_id_of = user_id_of  # a business mailbox's user id, None for other addresses
        self._mailboxes: dict[str, dict[str, StoredMessage]] = {}
        self._addresses: dict[str, str] = {}  # user id of a non-business mailbox -> its address
        self._lock = threading.RLock()

    # Names ----------------------------------------------------------------------------------------
    def address(self, user: str) -> str:
        """The mailbox key (lower-cased address) of a mailbox named by address or user id."""
        key = user.lower()
        with self._lock:
            return self._addresses.get(key, key)

    def user_id(self, mailbox: str) -> str:
        """The mailbox's user object id: the business's, or a stable GUID derived from the address."""
        known = self._user_id_of(mailbox)
        if known:
            return known
        user_id = str(uuid.UUID(bytes=hashlib.sha256(b"user:" + mailbox.encode()).digest()[:16], version=4))
        with self._lock:
            self._addresses[user_id] = mailbox
        return user_id

    def folder_id(self, mailbox: str, folder: str) -> str:
        """A stable, opaque id of one well-known folder of a mailbox."""
        return "AAMkAGZvbGRlcg" + hashlib.sha256(f"{mailbox}/{folder}".encode()).hexdigest()[:40] + "AAA="

    def folder(self, mailbox: str, name: str) -> str:
        """The well-known folder named by ``name`` (any case) or by its id; 404 otherwise."""
        wanted = name.strip("'\"").replace(" ", "").lower()
        for folder in FOLDERS:
            if wanted == folder or name == self.folder_id(mailbox, folder):
                return folder
        raise not_found()

    # Items ------------------------------------------------------------------------------------------
    def add(self, mailbox: str, folder: str, data: dict, headers: list[dict]) -> StoredMessage:
        """File a new message (id, change key and folder given here) and tell the listeners."""
        now = instant(self.clock.now())
        stored = StoredMessage(folder, {**data, "id": self.ids.exchange_id(), "createdDateTime": data.get("createdDateTime", now),
                                        "lastModifiedDateTime": now, "changeKey": self.ids.token(12),
                                        "parentFolderId": self.folder_id(mailbox, folder)}, list(headers))
        with self._lock:
            self._mailboxes.setdefault(mailbox, {})[stored.data["id"]] = stored
        self._tell("created", mailbox, stored)
        return stored

    def get(self, mailbox: str, message_id: str, folder: str | None = None) -> StoredMessage:
        """One message (in ``folder`` when given); 404 ErrorItemNotFound otherwise."""
        with self._lock:
            found = self._mailboxes.get(mailbox, {}).get(message_id)
        if found is None or (folder is not None and found.folder != folder):
            raise not_found()
        return found

    def listed(self, mailbox: str, folder: str | None = None) -> list[StoredMessage]:
        """The mailbox's messages (of one folder when given), in arrival order."""
        with self._lock:
            return [m for m in self._mailboxes.get(mailbox, {}).values() if folder is None or m.folder == folder]

    def everything(self) -> dict[str, list[StoredMessage]]:
        """Every mailbox's messages (for the search)."""
        with self._lock:
            return {mailbox: list(items.values()) for mailbox, items in self._mailboxes.items()}

    def move(self, mailbox: str, message_id: str, folder: str, changes: dict | None = None) -> StoredMessage:
        """Move a message to ``folder`` under a new id (the old id is then unknown)."""
        with self._lock:
            stored = self.get(mailbox, message_id)
            del self._mailboxes[mailbox][message_id]
        self._tell("deleted", mailbox, stored)
        return self.add(mailbox, folder, {**stored.data, **(changes or {})}, stored.headers)

    def remove(self, mailbox: str, message_id: str) -> None:
        """Take a message out of the mailbox for good."""
        with self._lock:
            stored = self.get(mailbox, message_id)
            del self._mailboxes[mailbox][message_id]
        self._tell("deleted", mailbox, stored)

    def update(self, mailbox: str, message_id: str, changes: dict) -> StoredMessage:
        """Change properties in place (a new change key) and tell the listeners."""
        with self._lock:
            stored = self.get(mailbox, message_id)
            stored.data.update(changes, lastModifiedDateTime=instant(self.clock.now()), changeKey=self.ids.token(12))
        self._tell("updated", mailbox, stored)
        return stored

    def clear(self) -> None:
        """Empty every mailbox."""
        with self._lock:
            self._mailboxes.clear()
            self._addresses.clear()

    def _tell(self, change_type: str, mailbox: str, stored: StoredMessage) -> None:
        user_id = self.user_id(mailbox)
        for listener in self.listeners:
            listener(change_type, mailbox, user_id, stored)


def instant(moment: datetime) -> str:
    """A message's DateTimeOffset as Outlook prints it: whole seconds, UTC, 'Z'."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def render(stored: StoredMessage, *, with_bodies: bool, select: list[str], body_type: str | None) -> dict:
    """The message as Graph answers it: ``$select`` honoured (id and etag always), bodies only with
    Mail.Read, ``uniqueBody``/``internetMessageHeaders`` only when selected, the body converted
    to ``body_type`` (the ``Prefer: outlook.body-content-type`` value) when asked."""
    data = dict(stored.data)
    data["@odata.etag"] = f'W/"{data["changeKey"]}"'
    data["uniqueBody"] = data["body"]
    data["internetMessageHeaders"] = [dict(h) for h in stored.headers] or None
    if body_type:
        data["body"] = data["uniqueBody"] = converted(data["body"], body_type)
    if not with_bodies:
        for name in BODY_FIELDS:
            data.pop(name, None)
    if select:
        return {name: value for name, value in data.items() if name in ("@odata.etag", "id") or name in select}
    return {name: value for name, value in data.items() if name not in SELECTED_ONLY}


def converted(body: dict, body_type: str) -> dict:
    """A body in the wanted content type: HTML to text drops the tags, text to HTML escapes it."""
    current = str(body.get("contentType", "text")).lower()
    content = str(body.get("content", ""))
    if body_type == current:
        return dict(body)
    if body_type == "text":
        text = re.sub(r"<(br|/p|/div|/tr|/h\d)\b[^>]*>", "\n", content, flags=re.IGNORECASE)
        return {"contentType": "text", "content": html.unescape(re.sub(r"<[^>]+>", "", text)).strip()}
    return {"contentType": "html", "content": f"<html><body><pre>{html.escape(content)}</pre></body></html>"}


def preview(body: dict) -> str:
    """``bodyPreview``: the first 255 characters of the body as text."""
    return " ".join(converted(body, "text")["content"].split())[:255]


def recipients(addresses: list[str]) -> list[dict]:
    """Graph's recipient list of plain addresses."""
    return [{"emailAddress": {"name": address, "address": address}} for address in addresses]


def addresses(message: dict, *parts: str) -> list[str]:
    """The addresses of a message's recipient lists (``toRecipients`` …)."""
    return [r["emailAddress"]["address"] for part in parts for r in message.get(part) or []
            if isinstance(r, dict) and (r.get("emailAddress") or {}).get("address")]
