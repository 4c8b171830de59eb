"""``GET /v1.0/users/{id | userPrincipalName}``: the directory object of a business's scheduling mailbox.

Only what the service reads: the object ``id`` that Graph puts in every change notification's
``resource`` (``Users/{id}/Events/{eventId}``, graph-facts §2.5), honouring ``$select``.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from . import identity
from .identity import requires
from .responses import context, emulator, graph_json

bp = Blueprint("users", __name__, url_prefix="/v1.0/users")


@bp.get("/<user>")
@requires(identity.READ_USERS)
def get_user(user: str) -> Response:
    """The mailbox's user object (404 ErrorInvalidUser for anyone else)."""
    core = emulator()
    business = core.mailboxes.business_for_user(user)
    address = business.id
    found = {"id": business.mailbox_user_id, "displayName": business.data.get("displayName"), "mail": address,
             "userPrincipalName": address}
    wanted = [name.strip() for name in request.args.get("$select", "").split(",") if name.strip()]
    body = {name: found.get(name) for name in wanted} if wanted else found
    return graph_json({"@odata.context": context("users/$entity"), **body})
