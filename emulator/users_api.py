"""``GET /v1.0/users/{id | userPrincipalName}``: the directory object of a business's scheduling mailbox.

Only what the service reads: the object ``id`` that Graph puts in every change notification's
``resource`` (``Users/{id}/Events/{eventId}``, graph-facts §2.5), honouring ``$select``.
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
    """The mailbox's user object: a business's scheduling mailbox, or any other address, as every
    address is a mailbox here (the privacy mailbox: its messages' notifications name this id);
    404 ErrorInvalidUser for a name that is neither."""
    core = emulator()
    try:
        business = core.mailboxes.business_for_user(user)
    except GraphError:
        if "@" not in user:
            raise
        address = user.lower()
        found = {"id": core.mail.user_id(address), "displayName": address, "mail": address, "userPrincipalName": address}
    else:
        address = business.id
        found = {"id": business.mailbox_user_id, "displayName": business.data.get("displayName"), "mail": address,
                 "userPrincipalName": address}
    wanted = [name.strip() for name in request.args.get("$select", "").split(",") if name.strip()]
    body = {name: found.get(name) for name in wanted} if wanted else found
    return graph_json({"@odata.context": context("users/$entity"), **body})
