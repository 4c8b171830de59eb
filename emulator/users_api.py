"""``GET /v1.0/users/{id | userPrincipalName}``: the directory object of a mailbox.

Only what the service reads: the object ``id`` that Graph puts in every change notification's
``resource`` (``Users/{id}/Events/{eventId}``, graph-facts §2.5; ``Users/{id}/Messages/{id}``),
honouring ``$select``. A business's scheduling mailbox answers its user object; as there is no
user directory, any other SMTP address is a mail user with a stable id (the privacy mailbox).
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from . import identity
from .errors import GraphError
from .identity import requires
from .responses import context, emulator, graph_json

bp = Blueprint("users", __name__, url_prefix="/v1.0/users")


@bp.get("/<user>")
@requires(identity.READ_USERS)
def get_user(user: str) -> Response:
    """The mailbox's user object (404 ErrorInvalidUser for a name that is neither an address nor a known id)."""
    core = emulator()
    address = core.mail.address(core.mailboxes.mailbox_key(user))  # a user id becomes its address
    if "@" not in address:
        raise GraphError(404, "ErrorInvalidUser", f"The requested user '{user}' is invalid.")
    with core.store.lock:
        business = next((b for b in core.store.businesses.values() if b.id.lower() == address), None)
    found = {"id": core.mail.user_id(address), "displayName": business.data.get("displayName") if business else address.partition("@")[0],
             "mail": business.id if business else address, "userPrincipalName": business.id if business else address}
    wanted = [name.strip() for name in request.args.get("$select", "").split(",") if name.strip()]
    body = {name: found.get(name) for name in wanted} if wanted else found
    return graph_json({"@odata.context": context("users/$entity"), **body})
