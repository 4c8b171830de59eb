"""The endpoints Microsoft Graph posts to: change notifications and lifecycle notifications.

Each request goes: validation handshake? → size and media type → strict parse → per item:
subscription id a GUID, our tenant, our subscription (one lookup per POST), its clientState (HMAC
compared in constant time), a resource in that subscription's mailbox → queued for the
process's inbox writer, whose group commit holds it → 202 (503 when the inbox is busy). No Graph call and no ledger work happens here: Graph counts any answer slower than 2.9 s
against the endpoint and drops notifications when too many are slow (graph-facts.md §2.6), so all
real work is the worker's.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from time import perf_counter
from typing import Protocol

from flask import Blueprint, Response, current_app, request

from state.client_states import ClientStateKeys
from state.subscription_lookup import KnownSubscription
from webhooks.inbox import InboxBusy
from webhooks.metrics import ENDPOINTS, WebhookMetrics
from webhooks.notifications import (
    ChangeNotification,
    MalformedNotification,
    Notification,
    parse_changes,
    parse_lifecycle,
)
from webhooks.problems import problem

EXTENSION = "bookings_ledger.webhooks"
# Graph's handshake tokens are a few dozen characters; a longer one is not Graph, and is not echoed.
MAX_VALIDATION_TOKEN_BYTES = 1024
# Graph retries a 503; one second lets a stalled writer catch up before the re-send.
BUSY_RETRY_AFTER_SECONDS = 1
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
# Users/{owner}/Events/{id} (graph-facts §2.5), or the Users('…')/Events('…') spelling; the
# privacy mailbox's Inbox subscription names Users/{owner}/Messages/{id} the same ways.
_ITEM_RESOURCE = re.compile(
    r"/?users(?:/([^/()']+)|\('([^']+)'\))/(events|messages)(?:/([^/()']+)|\('([^']+)'\))", re.IGNORECASE)

bp = Blueprint("webhooks", __name__)


class Subscriptions(Protocol):
    """Finds the service's own subscriptions among the ids of one POST."""

    def find(self, ids: Iterable[str]) -> Mapping[str, KnownSubscription]: ...


class Inbox(Protocol):
    """Stores genuine notifications for the workers, deduplicated, in one transaction."""

    def accept(self, endpoint: str, items: Sequence[Notification]) -> int: ...

    def close(self) -> None: ...


class Receiver:
    """What the views need, built by the app factory and kept in `app.extensions`."""

    def __init__(self, *, subscriptions: Subscriptions, client_state_keys: ClientStateKeys, tenant_id: str,
                 inbox: Inbox, metrics: WebhookMetrics) -> None:
        self.subscriptions = subscriptions
        self.client_state_keys = client_state_keys
        self.tenant_id = tenant_id.lower()
        self.inbox = inbox
        self.metrics = metrics
        # Each endpoint's labelled counters, looked up once: `labels()` costs a lock and a dict
        # lookup per call, a measurable share of an acknowledgement (bench/webhook_ack.py).
        self.counted = {endpoint: _EndpointMetrics(metrics, endpoint) for endpoint in ENDPOINTS}

    def genuine(self, items: Sequence[Notification]) -> list[Notification]:
        """The items that are Graph's, for one of our subscriptions; the rest are counted by reason."""
        addressed = [item for item in items if self._addressed_to_us(item)]
        known = self.subscriptions.find(item.subscriptionId for item in addressed) if addressed else {}
        kept = []
        for item in addressed:
            reason = self._refusal(item, known.get(item.subscriptionId))
            if reason is None:
                kept.append(item)
            else:
                self.metrics.rejected.labels(reason).inc()
        return kept

    def _addressed_to_us(self, item: Notification) -> bool:
        # Checked before any query: a forger's ids and tenants cost no database work.
        if not _GUID.fullmatch(item.subscriptionId):
            self.metrics.rejected.labels("malformed_subscription_id").inc()
            return False
        if (item.tenantId or "").lower() != self.tenant_id:
            self.metrics.rejected.labels("wrong_tenant").inc()
            return False
        return True

    def _refusal(self, item: Notification, subscription: KnownSubscription | None) -> str | None:
        if subscription is None:
            # Graph may still deliver for a subscription we deleted; nothing to do with it.
            return "unknown_subscription"
        if not self.client_state_keys.matches(subscription.client_state_hash, subscription.client_state_key_id,
                                              item.clientState):
            return "forged_client_state"
        if isinstance(item, ChangeNotification) and not _in_mailbox(item, subscription):
            return "wrong_resource"
        return None


class _EndpointMetrics:
    def __init__(self, metrics: WebhookMetrics, endpoint: str) -> None:
        self.received = metrics.received.labels(endpoint)
        self.accepted = metrics.accepted.labels(endpoint)
        self.ack_seconds = metrics.ack_seconds.labels(endpoint)


def _watched_items(subscription: KnownSubscription) -> str:
    """What the subscription's notifications name: "messages" for an Inbox, else "events"."""
    return "messages" if "/messages" in subscription.resource.lower() else "events"


def _in_mailbox(item: ChangeNotification, subscription: KnownSubscription) -> bool:
    """The item names an item of the kind the subscription watches (an event, or a message of the
    privacy mailbox) in its own mailbox, the same one its resourceData names."""
    match = _ITEM_RESOURCE.fullmatch(item.resource)
    if match is None or match.group(3).lower() != _watched_items(subscription):
        return False
    owner, item_id = (match.group(1) or match.group(2)).lower(), (match.group(4) or match.group(5))
    if item.resourceData is not None and item.resourceData.id != item_id:
        return False
    if subscription.mailbox_user_id is None:
        # A row from before revision 0011, until the renewal job learns its mailbox's id: the
        # address, or a directory id (Graph names mailboxes by id), is all that can be checked.
        return owner == subscription.business_id.lower() or _GUID.fullmatch(owner) is not None
    return owner in (subscription.business_id.lower(), subscription.mailbox_user_id.lower())


@bp.post("/webhooks/graph")
def change_notifications() -> Response:
    """Graph's change notifications for the booking mailboxes' calendars."""
    return _receive("change", parse_changes)


@bp.post("/webhooks/graph/lifecycle")
def lifecycle_notifications() -> Response:
    """Graph's lifecycle notifications: reauthorizationRequired, subscriptionRemoved, missed."""
    return _receive("lifecycle", parse_lifecycle)


def _receive(endpoint: str, parse: Callable[[bytes], Sequence[Notification]]) -> Response:
    # Only the handshake has a query string: a notification skips parsing one (bench/webhook_ack.py).
    token = request.args.get("validationToken") if request.environ.get("QUERY_STRING") else None
    receiver: Receiver = current_app.extensions[EXTENSION]
    if token is not None:
        # Answered before anything else: Graph gives the handshake 10 s and sends no JSON.
        if len(token.encode()) > MAX_VALIDATION_TOKEN_BYTES:
            receiver.metrics.rejected.labels("validation_token_too_long").inc()
            return problem(400, "Validation token too long")   # nothing of it is echoed
        return Response(token, status=200, mimetype="text/plain")
    started = perf_counter()
    if request.mimetype != "application/json":
        receiver.metrics.rejected.labels("unsupported_media_type").inc()
        return problem(415, "Unsupported media type", "Send application/json.")
    try:
        items = parse(request.get_data(cache=False))
    except MalformedNotification as exc:
        receiver.metrics.rejected.labels("malformed").inc()
        return problem(400, "Malformed notification", "; ".join(exc.problems))
    counted = receiver.counted[endpoint]
    counted.received.inc(len(items))
    genuine = receiver.genuine(items)
    if genuine:
        try:
            stored = receiver.inbox.accept(endpoint, genuine)
        except InboxBusy:
            receiver.metrics.rejected.labels("inbox_busy").inc()
            busy = problem(503, "Busy", "Retry later.")
            busy.headers["Retry-After"] = str(BUSY_RETRY_AFTER_SECONDS)
            return busy
        counted.accepted.inc(stored)
        if stored < len(genuine):
            receiver.metrics.duplicates.inc(len(genuine) - stored)
    counted.ack_seconds.observe(perf_counter() - started)
    # The same empty 202 whether items were genuine or not: the answer tells a forger nothing.
    return Response(status=202, mimetype="text/plain")
