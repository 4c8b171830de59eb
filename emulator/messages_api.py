"""Routes of a mailbox's messages: read, list, drafts (create, change, delete) and send.

learn: message-get, message-list, user-post-messages, message-update, message-delete, message-send;
privacy-facts §1.4–1.8. Reading needs Mail.ReadBasic(.All), Mail.Read or Mail.ReadWrite, and
without Mail.Read(Write) ``body``, ``bodyPreview`` and ``uniqueBody`` are left out even when
selected; ``internetMessageHeaders`` only when ``$select``ed; ``Prefer:
outlook.body-content-type="text"`` (or ``"html"``) converts the body and is echoed in
``Preference-Applied``. Drafts need Mail.ReadWrite, sending Mail.Send. A draft's custom
``internetMessageHeaders`` must be named ``x-…`` (400 ``InvalidInternetMessageHeader``, as Graph).
Sending moves the draft to Sent Items under a new id (202); its old id is then unknown, so a
second send is 404 ``ErrorItemNotFound``. DELETE moves a message to Deleted Items (one there is
removed).
"""

from __future__ import annotations

import re
from urllib.parse import quote

from flask import Blueprint, Response, request

from . import identity, mail_query
from .errors import GraphError, bad_request
from .identity import requires
from .messages import StoredMessage, preview, render
from .responses import collection, context, emulator, graph_json, json_body, no_content
from .transport import send

bp = Blueprint("messages", __name__, url_prefix="/v1.0/users/<user>")
DRAFT_FIELDS = {"subject", "body", "toRecipients", "ccRecipients", "bccRecipients", "replyTo", "importance",
                "internetMessageHeaders", "categories", "isReadReceiptRequested", "isDeliveryReceiptRequested"}
ANY_MESSAGE_FIELDS = {"isRead", "categories", "flag", "importance", "inferenceClassification"}
_BODY_TYPE = re.compile(r'outlook\.body-content-type\s*=\s*"?(text|html)"?', re.IGNORECASE)


@bp.get("/messages")
@bp.get("/mailFolders/<folder>/messages")
@bp.get("/mailFolders('<folder>')/messages")
@requires(identity.READ_MAIL)
def list_messages(user: str, folder: str | None = None) -> Response:
    """The mailbox's messages (every folder), or one folder's: filtered, sorted, paged."""
    core, mailbox = emulator(), _mailbox(user)
    chosen = core.mail.folder(mailbox, folder) if folder else None
    args = request.args.to_dict()
    clauses = mail_query.parse_filter(args.get("$filter", ""))
    order = mail_query.parse_orderby(args.get("$orderby", ""), clauses)
    found = [m for m in core.mail.listed(mailbox, chosen) if mail_query.matches(m.data, clauses)]
    by_data = {id(m.data): m for m in found}
    ranked = [by_data[id(data)] for data in mail_query.sort([m.data for m in found], order)]
    shown, next_link = mail_query.page(ranked, args, request.base_url)
    fragment = f"users('{quote(user, safe='@')}')/" + (f"mailFolders('{folder}')/messages" if folder else "messages")
    return _answer(collection(fragment, [_render(m) for m in shown], next_link))


@bp.get("/messages/<message_id>")
@bp.get("/mailFolders/<folder>/messages/<message_id>")
@bp.get("/mailFolders('<folder>')/messages/<message_id>")
@requires(identity.READ_MAIL)
def get_message(user: str, message_id: str, folder: str | None = None) -> Response:
    """One message (404 ErrorItemNotFound when unknown or in another folder)."""
    core, mailbox = emulator(), _mailbox(user)
    stored = core.mail.get(mailbox, message_id, core.mail.folder(mailbox, folder) if folder else None)
    return _answer({"@odata.context": context(f"users('{quote(user, safe='@')}')/messages/$entity"), **_render(stored)})


@bp.post("/messages")
@requires(identity.WRITE_MAIL)
def create_draft(user: str) -> Response:
    """A new draft in Drafts: 201 with the message (custom headers kept, selectable later)."""
    core, mailbox = emulator(), _mailbox(user)
    body = json_body()
    _check_draft_fields(body, DRAFT_FIELDS)
    headers = _custom_headers(body.get("internetMessageHeaders"))
    draft = {"receivedDateTime": None, "sentDateTime": None, "hasAttachments": False,
             "internetMessageId": f"<{core.ids.token(16)}@{mailbox.rpartition('@')[2]}>",
             "subject": str(body.get("subject") or ""), "importance": str(body.get("importance") or "normal"),
             "conversationId": core.ids.token(24), "isReadReceiptRequested": bool(body.get("isReadReceiptRequested")),
             "isDeliveryReceiptRequested": bool(body.get("isDeliveryReceiptRequested")), "isRead": True, "isDraft": True,
             "inferenceClassification": "focused", "sender": None, "from": None, "replyTo": [],
             "flag": {"flagStatus": "notFlagged"}, "categories": list(body.get("categories") or []),
             **_content(body), **{part: _recipients(body, part) for part in ("toRecipients", "ccRecipients", "bccRecipients")}}
    stored = core.mail.add(mailbox, "drafts", draft, headers)
    return _answer({"@odata.context": context(f"users('{quote(user, safe='@')}')/messages/$entity"), **_render(stored)}, 201)


@bp.patch("/messages/<message_id>")
@requires(identity.WRITE_MAIL)
def update_message(user: str, message_id: str) -> Response:
    """Change a message: isRead (and flags) on any message, the content of a draft only."""
    core, mailbox = emulator(), _mailbox(user)
    stored = core.mail.get(mailbox, message_id)
    body = json_body()
    _check_draft_fields(body, DRAFT_FIELDS | ANY_MESSAGE_FIELDS if stored.data["isDraft"] else ANY_MESSAGE_FIELDS)
    changes = {name: body[name] for name in body if name in ANY_MESSAGE_FIELDS}
    if stored.data["isDraft"]:
        changes |= {part: _recipients(body, part) for part in ("toRecipients", "ccRecipients", "bccRecipients") if part in body}
        changes |= {"subject": str(body["subject"])} if "subject" in body else {}
        changes |= _content(body) if "body" in body else {}
        if "internetMessageHeaders" in body:
            stored.headers = _custom_headers(body["internetMessageHeaders"])
    return _answer({"@odata.context": context(f"users('{quote(user, safe='@')}')/messages/$entity"),
                    **_render(core.mail.update(mailbox, message_id, changes))})


@bp.delete("/messages/<message_id>")
@requires(identity.WRITE_MAIL)
def delete_message(user: str, message_id: str) -> Response:
    """204: into Deleted Items under a new id (out of the mailbox when it was there already)."""
    core, mailbox = emulator(), _mailbox(user)
    stored = core.mail.get(mailbox, message_id)
    if stored.folder == "deleteditems":
        core.mail.remove(mailbox, message_id)
    else:
        core.mail.move(mailbox, message_id, "deleteditems")
    return no_content()


@bp.post("/messages/<message_id>/send")
@requires(identity.SEND_MAIL)
def send_draft(user: str, message_id: str) -> Response:
    """202 with no body: the draft leaves Drafts for Sent Items and the outbox."""
    core, mailbox = emulator(), _mailbox(user)
    stored = core.mail.get(mailbox, message_id)
    if not stored.data["isDraft"]:
        raise bad_request("Only a draft can be sent.", "ErrorInvalidRequest")
    if not stored.data["toRecipients"] and not stored.data["ccRecipients"] and not stored.data["bccRecipients"]:
        raise bad_request("At least one recipient isn't valid., A message can't be sent because it contains no recipients.",
                          "ErrorInvalidRecipients")
    send(core, mailbox, dict(stored.data), stored.headers, kind="send", draft_id=message_id)
    return Response(status=202)


def _mailbox(user: str) -> str:
    """The mailbox key of ``{user}``: an address, a business mailbox's user id or a mail user's id."""
    core = emulator()
    return core.mail.address(core.mailboxes.mailbox_key(user))


def _render(stored: StoredMessage) -> dict:
    core = emulator()
    select = [name.strip() for name in request.args.get("$select", "").split(",") if name.strip()]
    with_bodies = bool(set(identity.READ_MAIL_BODIES) & set(core.options.granted_permissions))
    return render(stored, with_bodies=with_bodies, select=select, body_type=_body_type())


def _body_type() -> str | None:
    match = _BODY_TYPE.search(request.headers.get("Prefer", ""))
    return match.group(1).lower() if match else None


def _answer(body: dict, status: int = 200) -> Response:
    response = graph_json(body, status)
    if _body_type():
        response.headers["Preference-Applied"] = f'outlook.body-content-type="{_body_type()}"'
    return response


def _check_draft_fields(body: dict, allowed: set[str]) -> None:
    unknown = sorted(name for name in body if not name.startswith("@odata") and name not in allowed)
    if unknown:
        raise bad_request(f"The property '{unknown[0]}' does not exist on type 'microsoft.graph.message' or cannot be set here.",
                          "ErrorInvalidProperty")


def _content(body: dict) -> dict:
    content = body.get("body") or {}
    if not isinstance(content, dict) or str(content.get("contentType", "text")).lower() not in ("text", "html"):
        raise bad_request("The message body contentType must be text or html.", "ErrorInvalidRequest")
    normal = {"contentType": str(content.get("contentType", "text")).lower(), "content": str(content.get("content") or "")}
    return {"body": normal, "bodyPreview": preview(normal)}


def _recipients(body: dict, part: str) -> list[dict]:
    given = body.get(part) or []
    if not isinstance(given, list) or not all(isinstance(r, dict) and "@" in str((r.get("emailAddress") or {}).get("address", ""))
                                              for r in given):
        raise bad_request("At least one recipient is not valid., Recipient is missing.", "ErrorInvalidRecipients")
    return [{"emailAddress": {"name": r["emailAddress"].get("name") or r["emailAddress"]["address"],
                              "address": r["emailAddress"]["address"]}} for r in given]


def _custom_headers(given: object) -> list[dict]:
    """The draft's internet headers: a list of {name, value}, every name ``x-…`` (Graph's rule)."""
    if given is None:
        return []
    if not isinstance(given, list) or not all(isinstance(h, dict) and isinstance(h.get("name"), str) for h in given):
        raise bad_request("internetMessageHeaders must be a list of {name, value}.", "ErrorInvalidRequest")
    for header in given:
        if not header["name"].lower().startswith("x-"):
            # Graph's wording (terminal42/contao-notification_center#436).
            raise GraphError(400, "InvalidInternetMessageHeader",
                             f"The internet message header name '{header['name']}' should start with 'x-' or 'X-'.")
    return [{"name": h["name"], "value": str(h.get("value") or "")} for h in given]

