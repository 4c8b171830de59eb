"""Routes of ``/v1.0/subscriptions`` (graph-facts §2.2)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from .identity import Identity
from .responses import collection, context, emulator, graph_json, json_body, no_content

bp = Blueprint("subscriptions", __name__, url_prefix="/v1.0/subscriptions")


@bp.post("")
def create() -> Response:
    """Create (201) after the handshake; event subscriptions need Calendars.Read, message ones Mail.ReadBasic or more."""
    core = emulator()
    body = json_body()
    Identity.authorize(core.subscriptions.permissions_for(body.get("resource")), core.options.granted_permissions)
    subscription = core.subscriptions.create(body, request.headers.get("Prefer", ""))
    return graph_json({"@odata.context": context("subscriptions/$entity"), **subscription.render()}, 201)


@bp.get("")
def list_all() -> Response:
    """All live subscriptions of the app."""
    items = [s.render() for s in emulator().subscriptions.listed()]
    return graph_json(collection("subscriptions", items, None))


@bp.get("/<subscription_id>")
def get(subscription_id: str) -> Response:
    """One subscription."""
    subscription = emulator().subscriptions.get(subscription_id)
    return graph_json({"@odata.context": context("subscriptions/$entity"), **subscription.render()})


@bp.patch("/<subscription_id>")
def renew(subscription_id: str) -> Response:
    """Renew: 200 with the expiry Graph granted."""
    subscription = emulator().subscriptions.renew(subscription_id, json_body())
    return graph_json({"@odata.context": context("subscriptions/$entity"), **subscription.render()})


@bp.delete("/<subscription_id>")
def delete(subscription_id: str) -> Response:
    """Delete (204)."""
    emulator().subscriptions.delete(subscription_id)
    return no_content()


@bp.post("/<subscription_id>/reauthorize")
def reauthorize(subscription_id: str) -> Response:
    """Reauthorize without extending (204)."""
    emulator().subscriptions.reauthorize(subscription_id)
    return no_content()
