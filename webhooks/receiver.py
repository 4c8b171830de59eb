"""The endpoints Microsoft Graph posts to: change notifications and lifecycle notifications.

Each request goes: validation handshake? → size and media type → strict parse → clientState
check per item → one inbox transaction → 202. No Graph call and no ledger work happens here:
Graph counts any answer slower than 2.9 s against the endpoint and drops notifications when too
many are slow (graph-facts.md §2.6), so all real work is the worker's.
"""
from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from time import perf_counter
from typing import Protocol

from flask import Blueprint, Response, current_app, request

from webhooks.metrics import WebhookMetrics
from webhooks.notifications import (
    MalformedNotification,
    Notification,
    parse_changes,
    parse_lifecycle,
)
from webhooks.problems import problem

EXTENSION = "bookings_ledger.webhooks"

bp = Blueprint("webhooks", __name__)


class ClientStates(Protocol):
    """Looks up the secret clientState the service gave each of its subscriptions."""

    def client_state(self, subscription_id: str) -> str | None: ...


class Inbox(Protocol):
    """Stores genuine notifications for the workers, deduplicated, in one transaction."""

    def accept(self, endpoint: str, items: Sequence[Notification]) -> int: ...

    def close(self) -> None: ...


class Receiver:
    """What the views need, built by the app factory and kept in `app.extensions`."""

    def __init__(self, *, client_states: ClientStates, inbox: Inbox, metrics: WebhookMetrics) -> None:
        self.client_states = client_states
        self.inbox = inbox
        self.metrics = metrics

    def genuine(self, items: Sequence[Notification]) -> list[Notification]:
        """The items whose clientState matches their subscription's secret; the rest are counted."""
        kept = []
        for item in items:
            secret = self.client_states.client_state(item.subscriptionId)
            if secret is None:
                # Graph may still deliver for a subscription we deleted; nothing to do with it.
                self.metrics.rejected.labels("unknown_subscription").inc()
            elif hmac.compare_digest(secret.encode(), item.clientState.encode()):
                kept.append(item)
            else:
                self.metrics.rejected.labels("forged_client_state").inc()
        return kept


@bp.post("/webhooks/graph")
def change_notifications() -> Response | tuple[str, int]:
    """Graph's change notifications for the booking mailboxes' calendars."""
    return _receive("change", parse_changes)


@bp.post("/webhooks/graph/lifecycle")
def lifecycle_notifications() -> Response | tuple[str, int]:
    """Graph's lifecycle notifications: reauthorizationRequired, subscriptionRemoved, missed."""
    return _receive("lifecycle", parse_lifecycle)


def _receive(endpoint: str, parse: Callable[[bytes], Sequence[Notification]]) -> Response | tuple[str, int]:
    token = request.args.get("validationToken")
    if token is not None:
        # Answered before anything else: Graph gives the handshake 10 s and sends no JSON.
        return Response(token, status=200, mimetype="text/plain")
    receiver: Receiver = current_app.extensions[EXTENSION]
    started = perf_counter()
    if request.mimetype != "application/json":
        receiver.metrics.rejected.labels("unsupported_media_type").inc()
        return problem(415, "Unsupported media type", "Send application/json.")
    try:
        items = parse(request.get_data(cache=False))
    except MalformedNotification as exc:
        receiver.metrics.rejected.labels("malformed").inc()
        return problem(400, "Malformed notification", "; ".join(exc.problems))
    receiver.metrics.received.labels(endpoint).inc(len(items))
    genuine = receiver.genuine(items)
    if genuine:
        stored = receiver.inbox.accept(endpoint, genuine)
        receiver.metrics.accepted.labels(endpoint).inc(stored)
        receiver.metrics.duplicates.inc(len(genuine) - stored)
    receiver.metrics.ack_seconds.labels(endpoint).observe(perf_counter() - started)
    # The same 202 whether items were genuine or not: the answer tells a forger nothing.
    return "", 202
