"""Change-notification subscriptions on mailbox events and messages: rules, expiry, notifications.

graph-facts §2.2–2.7, privacy-facts §1.1–1.3. Resources: ``users/{m}/events`` of a business
mailbox, and ``users/{m}/messages`` or ``users/{m}/mailFolders('Inbox')/messages`` (also
``/mailFolders/{name or id}/messages``) of any mailbox, optionally ``?$filter=isRead eq false``.
Rules enforced on create and renew: required fields, change types, https notification URLs
(loopback http allowed: the emulator's one relaxation), clientState of at most 128 characters,
expiry raised to 45 minutes and capped at 4,230 (messages: ``message_subscription_max_minutes``;
1,440 with resource data), 1,000 subscriptions per mailbox (403), and the validation handshake.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from . import identity
from .clock import Clock
from .delivery import Dispatcher
from .errors import GraphError
from .handshake import validate_endpoint
from .ids import IdFactory
from .mailbox import Mailboxes
from .messages import MailStore, StoredMessage
from .options import Options
from .store import Business
from .timefmt import iso_utc, parse_instant

CHANGE_TYPES = {"created", "updated", "deleted"}
LIFECYCLE_EVENTS = {"reauthorizationRequired", "subscriptionRemoved", "missed"}
_USER = r"^/?users(?:/([^/()]+)|\('([^']+)'\))"
_EVENTS = re.compile(_USER + r"/events$", re.IGNORECASE)
_MESSAGES = re.compile(_USER + r"(?:/mailFolders(?:/([^/()]+)|\('([^']+)'\)))?/messages$", re.IGNORECASE)
_UNREAD = re.compile(r"^\$filter=isRead\s+eq\s+false$", re.IGNORECASE)
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def invalid(message: str) -> GraphError:
    """Graph's answer to a subscription request it refuses."""
    return GraphError(400, "InvalidRequest", message)


@dataclass
class Subscription:
    """One subscription as Graph stores it."""

    id: str
    resource: str
    mailbox: str            # business id whose calendar is watched, or the address whose messages are
    change_types: list[str]
    notification_url: str
    lifecycle_url: str | None
    client_state: str | None
    expiration: datetime
    application_id: str
    creator_id: str
    latest_tls: str
    include_resource_data: bool
    immutable_ids: bool
    reauthorization_sent: bool = field(default=False)
    kind: str = "events"    # or "messages"
    folder: str | None = None  # messages: the watched folder, None for the whole mailbox
    unread_only: bool = False  # messages: ?$filter=isRead eq false

    def render(self) -> dict:
        """The subscription resource's JSON."""
        return {"id": self.id, "resource": self.resource, "applicationId": self.application_id,
                "changeType": ",".join(self.change_types), "clientState": self.client_state,
                "notificationUrl": self.notification_url, "notificationQueryOptions": None,
                "lifecycleNotificationUrl": self.lifecycle_url, "expirationDateTime": iso_utc(self.expiration),
                "creatorId": self.creator_id, "includeResourceData": self.include_resource_data,
                "latestSupportedTlsVersion": self.latest_tls, "encryptionCertificate": None,
                "encryptionCertificateId": None, "notificationUrlAppId": None}


class Subscriptions:
    """The subscription registry, wired to the mailboxes (changes in) and the dispatcher (POSTs out)."""

    def __init__(self, clock: Clock, ids: IdFactory, options: Options, mailboxes: Mailboxes, dispatcher: Dispatcher,
                 tenant_id: str) -> None:
        self.clock = clock
        self.ids = ids
        self.options = options
        self.mailboxes = mailboxes
        self.dispatcher = dispatcher
        self.tenant_id = tenant_id
        self.application_id = ids.guid()
        self.items: dict[str, Subscription] = {}
        # Every create, renewal and end, oldest first: a test proves from it that a mailbox was
        # watched at every moment (an expiry is dated at the subscription's expiration, when it lapsed).
        self.history: list[dict] = []
        self.lock = threading.RLock()
        self.mail: MailStore | None = None
        mailboxes.listeners.append(self.notify)
        dispatcher.on_drop = self._missed
        dispatcher.ticks.append(self.expire)

    def watch_mail(self, mail: MailStore) -> None:
        """Hear message changes too."""
        self.mail = mail
        mail.listeners.append(self.notify_message)

    # API operations -------------------------------------------------------------------------------
    def permissions_for(self, resource: object) -> tuple[str, ...]:
        """The application permissions a subscription on ``resource`` needs (any one suffices)."""
        return identity.READ_MAIL if _MESSAGES.match(str(resource).split("?")[0]) else identity.READ_CALENDARS

    def create(self, body: dict, prefer: str) -> Subscription:
        """Validate, run the handshake(s), then store (§2.2, §2.4)."""
        for name in ("changeType", "notificationUrl", "resource", "expirationDateTime"):
            if not body.get(name):
                raise invalid(f"Missing required property '{name}'.")
        change_types = [c.strip() for c in str(body["changeType"]).split(",")]
        if not change_types or not set(change_types) <= CHANGE_TYPES:
            raise invalid(f"Invalid changeType '{body['changeType']}'.")
        for name in ("notificationUrl", "lifecycleNotificationUrl"):
            if body.get(name):
                _check_url(body[name], name)
        if len(body.get("clientState") or "") > 128:
            raise invalid("The clientState property value must be at most 128 characters long.")
        rich = bool(body.get("includeResourceData"))
        if rich and not body.get("encryptionCertificate"):
            raise invalid("encryptionCertificate is required when includeResourceData is true.")
        target = self._target(str(body["resource"]))
        expiration = self._expiration(body["expirationDateTime"], rich, target["kind"])
        self._check_quota(target["mailbox"])
        token_base = self.ids.guid()
        for url in filter(None, (body["notificationUrl"], body.get("lifecycleNotificationUrl"))):
            # Opaque, with spaces and a colon, so an endpoint that does not URL-decode fails (§2.4).
            error = validate_endpoint(url, f"Validation: Testing client application reachability for subscription Request-Id: {token_base}",
                                      self.options.validation_timeout_s)
            if error:
                raise invalid(error)
        subscription = Subscription(
            id=self.ids.guid(), resource=body["resource"], change_types=change_types, **target,
            notification_url=body["notificationUrl"], lifecycle_url=body.get("lifecycleNotificationUrl"),
            client_state=body.get("clientState"), expiration=expiration, application_id=self.application_id,
            creator_id=self.application_id, latest_tls=body.get("latestSupportedTlsVersion") or "v1_2",
            include_resource_data=rich, immutable_ids='idtype="immutableid"' in prefer.replace(" ", "").lower())
        with self.lock:
            self._check_quota(target["mailbox"])  # again: the handshake ran without the lock
            self.items[subscription.id] = subscription
            self._record(subscription, "created", self.clock.now())
        return subscription

    def get(self, subscription_id: str) -> Subscription:
        """One live subscription; 404 when missing or expired."""
        self.expire()
        with self.lock:
            found = self.items.get(subscription_id)
        if found is None:
            raise GraphError(404, "ResourceNotFound", f"The object was not found. Subscription '{subscription_id}' does not exist.")
        return found

    def renew(self, subscription_id: str, body: dict) -> Subscription:
        """PATCH: a new expiry (which also reauthorizes); lifecycleNotificationUrl cannot be added."""
        subscription = self.get(subscription_id)
        if "lifecycleNotificationUrl" in body:
            raise invalid("lifecycleNotificationUrl cannot be updated; delete the subscription and create a new one.")
        if "expirationDateTime" in body:
            expiration = self._expiration(body["expirationDateTime"], subscription.include_resource_data, subscription.kind)
            if self.options.quirk_renewal_grants_less:
                # §6.10: Graph may set its own, shorter expiry; clients must read it back.
                expiration = min(expiration, self.clock.now() + timedelta(minutes=self.options.renewal_grant_minutes))
            subscription.expiration = expiration
        if body.get("notificationUrl"):
            _check_url(body["notificationUrl"], "notificationUrl")
            subscription.notification_url = body["notificationUrl"]
        subscription.reauthorization_sent = False
        with self.lock:
            self._record(subscription, "renewed", self.clock.now())
        return subscription

    def delete(self, subscription_id: str) -> None:
        """DELETE (204)."""
        with self.lock:
            self._record(self.get(subscription_id), "deleted", self.clock.now())
            del self.items[subscription_id]

    def reauthorize(self, subscription_id: str) -> None:
        """POST …/reauthorize: clears a reauthorization challenge without extending."""
        self.get(subscription_id).reauthorization_sent = False

    def listed(self) -> list[Subscription]:
        """All live subscriptions."""
        self.expire()
        with self.lock:
            return list(self.items.values())

    # Notifications ----------------------------------------------------------------------------------
    def notify(self, change_type: str, business: Business, event_id: str, change_key: str) -> None:
        """Queue one change notification per matching subscription, grouped by URL (§2.5)."""
        path = f"Users/{business.mailbox_user_id}/Events/{event_id}"
        by_url: dict[str, list[dict]] = {}
        with self.lock:
            for subscription in self.items.values():
                if (subscription.kind != "events" or subscription.mailbox.lower() != business.id.lower()
                        or change_type not in subscription.change_types):
                    continue
                by_url.setdefault(subscription.notification_url, []).append({
                    "id": self.ids.token(12), "subscriptionId": subscription.id,
                    "subscriptionExpirationDateTime": iso_utc(subscription.expiration),
                    "changeType": change_type, "resource": path, "clientState": subscription.client_state,
                    "tenantId": self.tenant_id,
                    "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "@odata.id": path,
                                     "@odata.etag": f'W/"{change_key}"' if change_key else None, "id": event_id}})
        for url, items in by_url.items():
            self.dispatcher.submit(url, items, "change")

    def notify_message(self, change_type: str, mailbox: str, user_id: str, stored: StoredMessage) -> None:
        """Queue message notifications: created on arrival in a watched folder, deleted on leaving it,
        updated on a change. With ``isRead eq false`` only unread messages count, so a message read
        is a ``deleted`` one (privacy-facts §1.2)."""
        by_url: dict[str, list[dict]] = {}
        with self.lock:
            for subscription in self.items.values():
                if subscription.kind != "messages" or subscription.mailbox != mailbox:
                    continue
                if subscription.folder is not None and subscription.folder != stored.folder:
                    continue
                seen = change_type
                if subscription.unread_only and stored.data.get("isRead"):
                    if change_type != "updated":
                        continue
                    seen = "deleted"
                if seen not in subscription.change_types:
                    continue
                message_id = stored.immutable_id if subscription.immutable_ids else stored.data["id"]
                path = f"Users/{user_id}/Messages/{message_id}"
                by_url.setdefault(subscription.notification_url, []).append({
                    "id": self.ids.token(12), "subscriptionId": subscription.id,
                    "subscriptionExpirationDateTime": iso_utc(subscription.expiration),
                    "changeType": seen, "resource": path, "clientState": subscription.client_state,
                    "tenantId": self.tenant_id,
                    "resourceData": {"@odata.type": "#Microsoft.Graph.Message", "@odata.id": path,
                                     "@odata.etag": f'W/"{stored.data["changeKey"]}"', "id": message_id}})
        for url, items in by_url.items():
            self.dispatcher.submit(url, items, "change")

    def lifecycle(self, subscription: Subscription, event: str) -> None:
        """Post a lifecycle notification (§2.7); nothing without a lifecycleNotificationUrl."""
        if event not in LIFECYCLE_EVENTS:
            raise GraphError(400, "BadRequest", f"Unknown lifecycle event '{event}'.")
        if event == "subscriptionRemoved":
            with self.lock:
                if self.items.pop(subscription.id, None) is not None:
                    self._record(subscription, "removed", self.clock.now())
        if subscription.lifecycle_url:
            self.dispatcher.submit(subscription.lifecycle_url, [{
                "subscriptionId": subscription.id, "subscriptionExpirationDateTime": iso_utc(subscription.expiration),
                "tenantId": self.tenant_id, "clientState": subscription.client_state, "lifecycleEvent": event}], "lifecycle")

    def expire(self) -> None:
        """Remove lapsed subscriptions; challenge those close to expiry with reauthorizationRequired."""
        now = self.clock.now()
        window = timedelta(minutes=self.options.reauthorization_window_minutes)
        with self.lock:
            for subscription in list(self.items.values()):
                if subscription.expiration <= now:
                    del self.items[subscription.id]  # not renewed in time: deleted, notifications stop
                    self._record(subscription, "expired", subscription.expiration)
                elif subscription.expiration - now <= window and not subscription.reauthorization_sent:
                    subscription.reauthorization_sent = True
                    self.lifecycle(subscription, "reauthorizationRequired")

    def history_listed(self) -> list[dict]:
        """The subscriptions' history: {subscriptionId, kind, mailbox, event, time, expirationDateTime}."""
        with self.lock:
            return list(self.history)

    # Helpers -----------------------------------------------------------------------------------------
    def _record(self, subscription: Subscription, event: str, moment: datetime) -> None:
        """Called under the lock."""
        self.history.append({"subscriptionId": subscription.id, "kind": subscription.kind, "mailbox": subscription.mailbox,
                             "event": event, "time": iso_utc(moment), "expirationDateTime": iso_utc(subscription.expiration)})

    def _missed(self, items: list[dict]) -> None:
        """Dropped change notifications produce a ``missed`` lifecycle event for their subscriptions."""
        with self.lock:
            affected = [self.items[i] for i in dict.fromkeys(item["subscriptionId"] for item in items) if i in self.items]
        for subscription in affected:
            self.lifecycle(subscription, "missed")

    def _target(self, resource: str) -> dict:
        """The Subscription fields naming what ``resource`` watches; 400 for one the emulator lacks."""
        path, _, query = resource.partition("?")
        events, messages = _EVENTS.match(path), _MESSAGES.match(path)
        if events:  # a query on events is not checked (as before messages were added)
            return {"kind": "events", "mailbox": self.mailboxes.business_for_user(events.group(1) or events.group(2)).id}
        if messages and self.mail is not None and (not query or _UNREAD.match(query)):
            mailbox = self.mail.address(self.mailboxes.mailbox_key(messages.group(1) or messages.group(2)))
            folder = messages.group(3) or messages.group(4)
            try:
                chosen = self.mail.folder(mailbox, folder) if folder else None
            except GraphError:
                raise invalid(f"Resource '{resource}' names an unknown mail folder.") from None
            return {"kind": "messages", "mailbox": mailbox, "folder": chosen, "unread_only": bool(query)}
        raise invalid(f"Resource '{resource}' is not supported by the emulator; use users/{{mailbox}}/events, "
                      f"users/{{mailbox}}/messages or users/{{mailbox}}/mailFolders('Inbox')/messages.")

    def _expiration(self, value: object, rich: bool, kind: str) -> datetime:
        now = self.clock.now()
        expiration = parse_instant(value, "expirationDateTime")
        plain = self.options.message_subscription_max_minutes if kind == "messages" else self.options.max_expiration_minutes
        limit = self.options.max_expiration_minutes_rich if rich else plain
        if expiration - now > timedelta(minutes=limit):
            raise invalid(f"Subscription expiration can only be {limit:g} minutes in the future.")
        return max(expiration, now + timedelta(minutes=self.options.min_expiration_minutes))

    def _check_quota(self, mailbox: str) -> None:
        with self.lock:
            count = sum(1 for s in self.items.values() if s.mailbox.lower() == mailbox.lower())
        if count >= self.options.subscriptions_per_mailbox:
            raise GraphError(403, "ExtensionError", f"Subscription quota exceeded: a mailbox can have at most "
                                                    f"{self.options.subscriptions_per_mailbox} subscriptions.")


def _check_url(url: str, name: str) -> None:
    parts = urlsplit(url)
    loopback = parts.scheme == "http" and (parts.hostname or "") in _LOOPBACK
    if parts.scheme != "https" and not loopback:
        raise invalid(f"The {name} must be an https URL.")
