"""Mail in transit: arrival in an Inbox, sending (outbox, Sent Items) and non-delivery reports.

privacy-facts §1.8: a sent message goes to Sent Items (sendMail: unless ``saveToSentItems`` is
false); accepted is not delivered, and an undeliverable recipient comes back as an NDR in the
**sender's Inbox**. Here a recipient bounces when its domain ends in ``.invalid`` (RFC 2606: it
can never resolve) or its address or domain is listed in the ``bouncing_addresses`` option. The
NDR is shaped like Exchange's: from ``postmaster@`` the sender's domain, subject
``Undeliverable: …``, headers ``X-MS-Exchange-Message-Is-Ndr`` and ``Content-Type: multipart/report;
report-type=delivery-status``; it carries no ``Auto-Submitted`` header, so a reader has to
recognise the NDR itself. Arrivals notify the subscriptions like any created message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .messages import StoredMessage, addresses, converted, instant, preview, recipients

if TYPE_CHECKING:
    from .core import Emulator

ALL_RECIPIENTS = ("toRecipients", "ccRecipients", "bccRecipients")


def deliver(core: Emulator, mailbox: str, *, sender: str, subject: str, body: dict, to: list[str] | None = None,
            headers: list[dict] | None = None, conversation_id: str | None = None) -> StoredMessage:
    """A message from the internet arriving in ``mailbox``'s Inbox now, with the MIME headers a
    transport would have written (``headers`` added after them, e.g. ``Auto-Submitted``)."""
    now = core.clock.now()
    internet_id = f"<{core.ids.token(16)}@{_domain(sender)}>"
    to = to or [mailbox]
    content_type = "text/html; charset=utf-8" if str(body.get("contentType")).lower() == "html" else "text/plain; charset=utf-8"
    written = [{"name": "Received", "value": f"from {_domain(sender)} by emulator.outlook.invalid; {now:%a, %d %b %Y %H:%M:%S +0000}"},
               {"name": "From", "value": sender}, {"name": "To", "value": ", ".join(to)}, {"name": "Subject", "value": subject},
               {"name": "Date", "value": f"{now:%a, %d %b %Y %H:%M:%S +0000}"}, {"name": "Message-ID", "value": internet_id},
               {"name": "MIME-Version", "value": "1.0"}]
    if not any(h["name"].lower() == "content-type" for h in headers or []):
        written.append({"name": "Content-Type", "value": content_type})
    data = _message(core, subject=subject, body=body, sender=sender, to=recipients(to), internet_id=internet_id,
                    conversation_id=conversation_id)
    return core.mail.add(mailbox, "inbox", {**data, "isRead": False, "isDraft": False}, written + list(headers or []))


def send(core: Emulator, mailbox: str, message: dict, headers: list[dict], *, kind: str, draft_id: str | None,
         save: bool = True) -> dict:
    """Send ``message`` from ``mailbox``: the draft ``draft_id`` moves to Sent Items (or a copy is
    filed there when ``save``), the outbox keeps it, bounced recipients produce NDRs. Answers the
    outbox entry."""
    now = instant(core.clock.now())
    sent_fields = {"isDraft": False, "isRead": True, "sentDateTime": now, "receivedDateTime": now,
                   "from": {"emailAddress": {"name": mailbox, "address": mailbox}},
                   "sender": {"emailAddress": {"name": mailbox, "address": mailbox}}}
    if draft_id is not None:
        stored = core.mail.move(mailbox, draft_id, "sentitems", sent_fields)
    elif save:
        stored = core.mail.add(mailbox, "sentitems", {**_message(core, subject=str(message.get("subject", "")), body=message.get("body") or {},
                                                                 sender=mailbox, to=message.get("toRecipients") or []),
                                                      "ccRecipients": message.get("ccRecipients") or [],
                                                      "bccRecipients": message.get("bccRecipients") or [], **sent_fields}, headers)
    else:
        stored = None
    to = addresses(message, *ALL_RECIPIENTS)
    bounced = [address for address in to if _bounces(core, address)]
    entry = {"kind": kind, "from": mailbox, "recipients": to, "subject": str(message.get("subject") or ""),
             "text": preview_text(message.get("body") or {}), "headers": [dict(h) for h in headers],
             "sentDateTime": now, "messageId": stored.data["id"] if stored else None, "bounced": bounced,
             "saveToSentItems": stored is not None, "message": message}
    core.outbox.add(entry)
    if bounced:
        _non_delivery_report(core, mailbox, message, bounced, stored.data.get("internetMessageId") if stored else None)
    return entry


def preview_text(body: dict) -> str:
    """The whole body as text (the outbox keeps what a recipient would read)."""
    return converted(body, "text")["content"] if body else ""


def _message(core: Emulator, *, subject: str, body: dict, sender: str, to: list[dict], internet_id: str | None = None,
             conversation_id: str | None = None) -> dict:
    now = instant(core.clock.now())
    body = {"contentType": str(body.get("contentType", "text")).lower(), "content": str(body.get("content", ""))}
    who = {"emailAddress": {"name": sender, "address": sender}}
    return {"receivedDateTime": now, "sentDateTime": now, "hasAttachments": False,
            "internetMessageId": internet_id or f"<{core.ids.token(16)}@{_domain(sender)}>", "subject": subject,
            "bodyPreview": preview(body), "importance": "normal", "conversationId": conversation_id or core.ids.token(24),
            "isReadReceiptRequested": False, "isDeliveryReceiptRequested": False, "inferenceClassification": "focused",
            "body": body, "sender": who, "from": who, "toRecipients": to, "ccRecipients": [], "bccRecipients": [],
            "replyTo": [], "flag": {"flagStatus": "notFlagged"}, "categories": []}


def _non_delivery_report(core: Emulator, mailbox: str, message: dict, bounced: list[str], original_id: str | None) -> None:
    subject = f"Undeliverable: {message.get('subject') or ''}"
    listing = "".join(f"<li>{address}</li>" for address in bounced)
    body = {"contentType": "html",
            "content": f"<html><body><p>Your message couldn't be delivered.</p><p>Delivery has failed to these recipients "
                       f"or groups:</p><ul>{listing}</ul><p>The email address you entered couldn't be found.</p></body></html>"}
    headers = [{"name": "Content-Type", "value": 'multipart/report; report-type=delivery-status; boundary="ndr-boundary"'},
               {"name": "X-MS-Exchange-Message-Is-Ndr", "value": ""}]
    if original_id:
        headers += [{"name": "In-Reply-To", "value": original_id}, {"name": "References", "value": original_id}]
    deliver(core, mailbox, sender=f"postmaster@{_domain(mailbox)}", subject=subject, body=body, headers=headers)


def _bounces(core: Emulator, address: str) -> bool:
    domain = _domain(address).lower()
    listed = {name.lower() for name in core.options.bouncing_addresses}
    return domain.endswith(".invalid") or address.lower() in listed or domain in listed


def _domain(address: str) -> str:
    return address.rpartition("@")[2] or "emulator.invalid"
