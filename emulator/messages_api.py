"""Routes of a mailbox's messages: read, list, drafts (create, change, delete) and send.

learn: message-get, message-list, user-post-messages, message-update, message-delete, message-send;
privacy-facts §1.4–1.8. Reading needs Mail.ReadBasic(.All), Mail.Read or Mail.ReadWrite, and
without Mail.Read(Write) ``body``, ``bodyPreview`` and ``uniqueBody`` are left out even when
selected; ``internetMessageHeaders`` only when ``$select``ed; ``Prefer:
outlook.body-content-type="text"`` (or ``"html"``) converts the body and is echoed in
``Preference-Applied``. Drafts need Mail.ReadWrite, sending Mail.Send. A draft's custom
``internetMessageHeaders`` must be named ``x-…`` (message_input.py).
Sending moves the draft to Sent Items under a new id (202); its old id is then unknown, so a
second send is 404 ``ErrorItemNotFound``; named by its immutable id, it is no draft any more:
404 as well (UNCONFIRMED). DELETE moves a message to Deleted Items, and from there
to Recoverable Items; ``permanentDelete`` purges it (still kept there for the retention).
"""

from __future__ import annotations

import re
from urllib.parse import quote

from flask import Blueprint, Response, request

from . import identity, mail_query
from .errors import bad_request, not_found
from .identity import requires
from .message_input import RECIPIENT_LISTS, body_fields, custom_headers, no_recipients, recipient_list
from .messages import StoredMessage, render
from .recoverable import DELETIONS, PURGES
from .responses import collection, context, emulator, graph_json, json_body, no_content
from .transport import new_message, send

bp = Blueprint("messages", __name__, url_prefix="/v1.0/users/<user>")
DRAFT_FIELDS = {"subject", "body", "toRecipients", "ccRecipients", "bccRecipients", "replyTo", "importance",
                "internetMessageHeaders", "categories", "isReadReceiptRequested", "isDeliveryReceiptRequested"}
ANY_MESSAGE_FIELDS = {"isRead", "categories", "flag", "importance", "inferenceClassification"}
_BODY_TYPE = re.compile(r'outlook\.body-content-type\s*=\s*"?(text|html)"?', re.IGNORECASE)
_IMMUTABLE = re.compile(r'IdType\s*=\s*"?ImmutableId"?', re.IGNORECASE)


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
    ranked = mail_query.sort(found, order, lambda m: m.data)
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
    return _answer({**_entity(user), **_render(stored)})


@bp.post("/messages")
@requires(identity.WRITE_MAIL)
def create_draft(user: str) -> Response:
    """A new draft in Drafts: 201 with the message (custom headers kept, selectable later)."""
    core, mailbox = emulator(), _mailbox(user)
    body = json_body()
    _check_draft_fields(body, DRAFT_FIELDS)
    headers = custom_headers(body.get("internetMessageHeaders"))
    draft = {**new_message(core, subject=str(body.get("subject") or ""), body=body.get("body"), sender=mailbox,
                           to=recipient_list(body.get("toRecipients"))),
             "receivedDateTime": None, "sentDateTime": None, "sender": None, "from": None, "isRead": True, "isDraft": True,
             "importance": str(body.get("importance") or "normal"), "categories": list(body.get("categories") or []),
             "isReadReceiptRequested": bool(body.get("isReadReceiptRequested")),
             "isDeliveryReceiptRequested": bool(body.get("isDeliveryReceiptRequested")),
             "ccRecipients": recipient_list(body.get("ccRecipients")), "bccRecipients": recipient_list(body.get("bccRecipients"))}
    stored = core.mail.add(mailbox, "drafts", draft, headers)
    return _answer({**_entity(user), **_render(stored)}, 201)


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
        changes |= {part: recipient_list(body[part]) for part in RECIPIENT_LISTS if part in body}
        changes |= {"subject": str(body["subject"])} if "subject" in body else {}
        changes |= body_fields(body["body"]) if "body" in body else {}
        if "internetMessageHeaders" in body:
            stored.headers = custom_headers(body["internetMessageHeaders"])
    return _answer({**_entity(user), **_render(core.mail.update(mailbox, message_id, changes))})


@bp.delete("/messages/<message_id>")
@requires(identity.WRITE_MAIL)
def delete_message(user: str, message_id: str) -> Response:
    """204: into Deleted Items under a new id; from Deleted Items into Recoverable Items > Deletions."""
    core, mailbox = emulator(), _mailbox(user)
    if core.mail.get(mailbox, message_id).folder == "deleteditems":
        _keep_recoverable(mailbox, core.mail.remove(mailbox, message_id), DELETIONS)
    else:
        core.mail.move(mailbox, message_id, "deleteditems")
    return no_content()


@bp.post("/messages/<message_id>/permanentDelete")
@requires(identity.WRITE_MAIL)
def permanently_delete_message(user: str, message_id: str) -> Response:
    """204: out of every folder into Recoverable Items > Purges (message-permanentdelete)."""
    mailbox = _mailbox(user)
    _keep_recoverable(mailbox, emulator().mail.remove(mailbox, message_id), PURGES)
    return no_content()


def _keep_recoverable(mailbox: str, stored: StoredMessage, folder: str) -> None:
    """Exchange keeps a message deleted from Deleted Items, or purged, for the retention (privacy-facts §2.6)."""
    item = {**stored.data, "internetMessageHeaders": stored.headers}
    emulator().mailboxes.recoverable.keep(mailbox, "message", stored.data["id"], item, folder)


@bp.post("/messages/<message_id>/send")
@requires(identity.SEND_MAIL)
def send_draft(user: str, message_id: str) -> Response:
    """202 with no body: the draft leaves Drafts for Sent Items and the outbox."""
    core, mailbox = emulator(), _mailbox(user)
    stored = core.mail.get(mailbox, message_id)
    if not stored.data["isDraft"]:  # e.g. a sent draft named by its immutable id (UNCONFIRMED: taken as not found)
        raise not_found()
    if not any(stored.data[part] for part in RECIPIENT_LISTS):
        raise no_recipients()
    send(core, mailbox, dict(stored.data), stored.headers, kind="send", draft_id=message_id)
    return Response(status=202)


def _mailbox(user: str) -> str:
    """The mailbox key of ``{user}``: an address, a business mailbox's user id or a mail user's id."""
    core = emulator()
    return core.mail.address(core.mailboxes.mailbox_key(user))


def _entity(user: str) -> dict:
    """The ``@odata.context`` of one message."""
    return {"@odata.context": context(f"users('{quote(user, safe='@')}')/messages/$entity")}


def _render(stored: StoredMessage) -> dict:
    core = emulator()
    select = [name.strip() for name in request.args.get("$select", "").split(",") if name.strip()]
    with_bodies = bool(set(identity.READ_MAIL_BODIES) & set(core.options.granted_permissions))
    immutable = bool(_IMMUTABLE.search(request.headers.get("Prefer", "")))
    return render(stored, with_bodies=with_bodies, select=select, body_type=_body_type(), immutable=immutable)


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
