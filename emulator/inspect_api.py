"""Control API for erasure tests (``/_emulator/``, JSON, no auth): where data still lives, what
each object went through, and what the mailboxes keep after deletes.

``GET /search?text=`` scans every surface (search.py); ``GET /recoverable`` lists Recoverable
Items per mailbox; ``GET /requests/objects`` lists the write requests per object id, so a test
can prove each record was written exactly once (``$batch`` members included, flagged).
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from .errors import bad_request
from .responses import emulator, graph_json
from .search import search as search_surfaces

bp = Blueprint("inspect", __name__, url_prefix="/_emulator")


@bp.get("/search")
def search() -> Response:
    """Every surface holding ``text`` (case-insensitive): {surface, business, id, paths, recoverable[, folder]}."""
    text = request.args.get("text", "")
    if not text.strip():
        raise bad_request("search needs a non-empty text.")
    hits = search_surfaces(emulator(), text)
    return graph_json({"text": text, "found": bool(hits), "hits": hits})


@bp.get("/recoverable")
def recoverable() -> Response:
    """Recoverable Items per mailbox: {kind, id, folder (deletions|purges), deletedDateTime, keptUntil, item}."""
    mailbox = request.args.get("mailbox")
    core = emulator()
    key = core.mailboxes.mailbox_key(mailbox) if mailbox else None
    return graph_json(core.mailboxes.recoverable.listed(key))


@bp.get("/requests/objects")
def object_writes() -> Response:
    """Write requests per object id: {id: [{method, path, status, time, batched, kind, mailbox}]}."""
    return graph_json(emulator().object_log.listed(request.args.get("id")))


@bp.get("/requests/objects/<path:object_id>")
def object_writes_of(object_id: str) -> Response:
    """The write requests of one object (an empty list when there were none)."""
    return graph_json(emulator().object_log.listed(object_id).get(object_id, []))
