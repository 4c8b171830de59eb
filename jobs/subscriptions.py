"""Keeping one Graph subscription alive per booking business (graph-facts.md §2.2, §2.7, §7.4),
and one on the privacy mailbox's Inbox when PRIVACY_MAILBOX is set (`created` only, the same
lifetime: 4,230 minutes is also the documented maximum for messages, privacy-facts §1.3).

`SubscriptionManager.ensure_all()` is both `bookings-ledger subscribe` and the scheduled renewal
job. It works from the database alone, under the `subscriptions` lease, so a restart or a second
instance finds what the first one did and never creates a duplicate:

- no subscription for a business: create one (its own random clientState, saved *pending*
  before Graph is asked, see state/subscriptions.py), with a lifecycleNotificationUrl and
  immutable ids, and store the expiry Graph *returns*;
- less than half its granted lifetime left (never less than RENEWAL margin): renew (PATCH);
- gone (404 on renew, lapsed, `subscriptionRemoved`): create a new one, delete the old one at
  Graph (a forged `subscriptionRemoved` must not leave two alive; a 404 there is fine), record
  the window between as a gap. The old row is *retiring* until all of that is done, so a crash
  part-way is resumed by the next pass or the lifecycle row's retry, never done twice.

`rotate_client_states()` (`subscribe --rotate-client-state`) gives each subscription a new secret.
graph-facts §2.2 documents PATCH for the expiry (and the notification URL) only, never the
clientState, so each gets a successor first and is deleted after: no moment without a live
subscription, and the old one is *rotated*: still accepted for CLIENT_STATE_GRACE, while Graph
retries what it sent before the delete (a *retiring* row, being replaced, is accepted no more).
"""
from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

from config import SettingsError
from connector.errors import NotFound, OutcomeUnknown
from connector.models import Subscription
from jobs import gaps
from ledger.transactions import Ledger
from database.times import format_time
from state.client_states import ClientStateKeys, new_client_state
from state.leases import acquire_lease, release_lease
from state.subscriptions import (
    RETIRING, GraphSubscription, client_state_matches, forget_subscription, promote_pending, retire_subscription,
    rotate_out_subscription, save_pending, set_mailbox_user_id, subscription_row, subscriptions_in_state,
    update_subscription,
)
from database.times import parse_time

log = logging.getLogger(__name__)
LEASE = "subscriptions"
LEASE_TTL = timedelta(minutes=5)   # far longer than a pass takes; a crashed holder frees it after this
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
CLIENT_STATE_GRACE = timedelta(hours=4, minutes=10)   # Graph retries a delivery for up to 4 hours (§2.6)
# What each kind of watched mailbox subscribes to: a business's calendar changes in full; the
# privacy mailbox's arrivals only (reading or filing a mail is no news to the service).
EVENTS_CHANGES = "created,updated,deleted"
INBOX_CHANGES = "created"


class SubscriptionsBusy(Exception):
    """Another pass or replacement holds the `subscriptions` lease; try again shortly."""


class GraphSubscriptions(Protocol):
    """The part of `connector.subscriptions.Subscriptions` this module uses."""

    def create(self, *, resource: str, notification_url: str, lifecycle_notification_url: str, client_state: str,
               expiration: datetime, change_type: str = EVENTS_CHANGES) -> Subscription: ...
    def renew(self, subscription_id: str, expiration: datetime) -> Subscription: ...
    def reauthorize(self, subscription_id: str) -> None: ...
    def delete(self, subscription_id: str) -> None: ...
    def list(self) -> list[Subscription]: ...
    def mailbox_owner_id(self, mailbox: str) -> str: ...


@dataclass(frozen=True)
class SubscriptionPolicy:
    """What to ask Graph for and when to renew."""

    lifetime: timedelta = timedelta(minutes=4230)   # Outlook events' documented maximum (§2.3)
    margin: timedelta = timedelta(days=1)           # never let less than this remain (§7.4)

    def renewal_due(self, row: GraphSubscription, now: datetime) -> bool:
        """Less than half the granted lifetime, or less than the margin, remains."""
        expires = parse_time(row.expires_at)
        granted = expires - parse_time(row.updated_at)
        return expires - now < max(granted / 2, self.margin)


@dataclass
class SubscriptionReport:
    """What one pass did, per business (ids only)."""

    created: list[str] = field(default_factory=list)
    renewed: list[str] = field(default_factory=list)
    recreated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rotated: list[str] = field(default_factory=list)
    skipped: bool = False   # another instance held the lease

    def as_dict(self) -> dict[str, object]:
        return {"created": self.created, "renewed": self.renewed, "recreated": self.recreated,
                "unchanged": len(self.unchanged), "rotated": self.rotated, "skipped": self.skipped}


def webhook_urls(public_base_url: str) -> tuple[str, str]:
    """(notificationUrl, lifecycleNotificationUrl); SettingsError unless https (or loopback http)."""
    parts = urlsplit(public_base_url)
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in _LOOPBACK):
        raise SettingsError("setting PUBLIC_BASE_URL must be an https URL that Graph can reach, e.g. "
                            "https://ledger.contoso.com (plain http only on loopback, for the demo)")
    base = public_base_url.rstrip("/")
    return f"{base}/webhooks/graph", f"{base}/webhooks/graph/lifecycle"


def resource_for(business_id: str) -> str:
    """The Graph resource watched for a business: its scheduling mailbox's events (§2.1)."""
    return f"users/{business_id}/events"


def inbox_resource_for(mailbox: str) -> str:
    """The Graph resource watched for the privacy mailbox: new mail in its Inbox (privacy-facts §1.1)."""
    return f"users/{mailbox}/mailFolders('Inbox')/messages"



class SubscriptionManager:
    """Creates, renews and recreates the service's subscriptions; all state in the database."""

    def __init__(self, ledger: Ledger, graph: GraphSubscriptions, *, businesses: Sequence[str], public_base_url: str,
                 client_state_keys: ClientStateKeys, policy: SubscriptionPolicy | None = None,
                 holder: str | None = None, privacy_mailbox: str | None = None) -> None:
        self.ledger, self.graph, self.businesses = ledger, graph, list(businesses)
        # Every watched mailbox -> (resource, change types): the businesses, and the privacy
        # mailbox's Inbox when one is set. A subscription row names its mailbox as `business_id`.
        self.watched = {business_id: (resource_for(business_id), EVENTS_CHANGES) for business_id in self.businesses}
        if privacy_mailbox:
            self.watched[privacy_mailbox] = (inbox_resource_for(privacy_mailbox), INBOX_CHANGES)
        self.client_state_keys = client_state_keys
        self.urls = webhook_urls(public_base_url)
        self.policy = policy or SubscriptionPolicy()
        self.holder = holder or f"subscriptions-{secrets.token_hex(6)}"
        self.clock: Callable[[], datetime] = ledger.clock

    def ensure_all(self) -> SubscriptionReport:
        """One pass over every business: create, renew or recreate what needs it."""
        def ensure(report: SubscriptionReport) -> None:
            self._resume_replacements()
            for business_id in self.watched:
                self._ensure(business_id, report)

        return self._pass(ensure)

    def rotate_client_states(self) -> SubscriptionReport:
        """Give every active subscription a new clientState: successor created, then the old one rotated out."""
        def rotate(report: SubscriptionReport) -> None:
            for row in self.active():
                self._create(row.business_id)
                with self.ledger.transaction() as tx:
                    rotate_out_subscription(tx.session, row.subscription_id, now=self.clock(),
                                            accept_until=self.clock() + CLIENT_STATE_GRACE)
                self._delete_at_graph(row.subscription_id)
                report.rotated.append(row.business_id)

        return self._pass(rotate)

    def _pass(self, work: Callable[[SubscriptionReport], None]) -> SubscriptionReport:
        report = SubscriptionReport()
        try:
            with self._lease():
                self._settle_pending()
                work(report)
        except SubscriptionsBusy:
            report.skipped = True
        return report

    def reauthorize(self, subscription_id: str) -> str:
        """Answer reauthorizationRequired: renew if due anyway, else reauthorize; recreate if gone.

        Raises SubscriptionsBusy while a renewal pass (or a replacement) holds the lease.
        """
        with self._lease():
            row = subscription_row(self.ledger.engine, subscription_id)
            if row is None or row.state != "active":
                return "ignored"
            try:
                if self.policy.renewal_due(row, self.clock()):
                    self._renew(row)
                    return "renewed"
                self.graph.reauthorize(subscription_id)
            except NotFound:
                self._replace(subscription_id, reason="removed")
                return "recreated"
            return "reauthorized"

    def replace(self, subscription_id: str, *, reason: str) -> str | None:
        """The subscription is gone or must go: a successor for its business, the old one deleted
        at Graph, the window between recorded as a gap; returns the successor's id.

        Resumes a replacement that a crash or a failed DELETE cut short; None when it is done
        already. Raises SubscriptionsBusy while a renewal pass (or a replacement) holds the lease.
        """
        with self._lease():
            return self._replace(subscription_id, reason=reason)

    def active(self) -> list[GraphSubscription]:
        """The active subscriptions, as stored."""
        return subscriptions_in_state(self.ledger.engine, "active")

    @contextmanager
    def _lease(self) -> Iterator[None]:
        # Every change of the stored subscriptions happens under the one `subscriptions` lease, so
        # a lifecycle row and a renewal pass never both see a business without a successor and
        # both create one. A fresh holder per use: the demo shares one manager between threads.
        holder = f"{self.holder}-{secrets.token_hex(4)}"
        if not acquire_lease(self.ledger.engine, LEASE, holder, self.clock(), LEASE_TTL):
            raise SubscriptionsBusy(LEASE)
        try:
            yield
        finally:
            release_lease(self.ledger.engine, LEASE, holder, self.clock())

    def _replace(self, subscription_id: str, *, reason: str) -> str | None:
        row = subscription_row(self.ledger.engine, subscription_id)
        if row is None or row.state not in ("active", RETIRING):
            return None   # already replaced: a repeated lifecycle event changes nothing
        if row.state == "active":
            with self.ledger.transaction() as tx:
                retire_subscription(tx.session, subscription_id)
        successor = self._active_id(row.business_id) or self._create(row.business_id)
        self._delete_at_graph(subscription_id)
        # A lapse is dated by its expiry; a removal only by when we last knew the subscription alive.
        # The gap ends now, after the successor exists: nothing after that can have been lost.
        lost_since = parse_time(row.expires_at if reason == "lapsed" else row.updated_at)
        with self.ledger.transaction() as tx:
            update_subscription(tx.session, subscription_id, self.clock(), state="removed")
            gaps.record_in(tx, row.business_id, reason=reason, start=lost_since, end=self.clock(),
                           subscription_id=subscription_id)
        return successor

    def _active_id(self, business_id: str) -> str | None:
        return next((r.subscription_id for r in self.active() if r.business_id == business_id), None)

    def _delete_at_graph(self, subscription_id: str) -> None:
        # Graph deleted it already when the removal was genuine (or it lapsed): 404 is the answer
        # then. When the `subscriptionRemoved` was forged, this is what stops it living on beside
        # its successor, notifying an id we no longer accept.
        try:
            self.graph.delete(subscription_id)
        except NotFound:
            pass

    def _resume_replacements(self) -> None:
        # A replacement cut short (a crash, a failed DELETE) finishes here; the reason is not
        # stored, and "removed" dates the gap from the last renewal: the wider of the two windows.
        for row in subscriptions_in_state(self.ledger.engine, RETIRING):
            self._replace(row.subscription_id, reason="removed")

    def _ensure(self, business_id: str, report: SubscriptionReport) -> None:
        row = next((r for r in self.active() if r.business_id == business_id), None)
        if row is not None and row.mailbox_user_id is None:   # stored before the receiver checked resources
            with self.ledger.transaction() as tx:
                set_mailbox_user_id(tx.session, row.subscription_id, self.graph.mailbox_owner_id(business_id))
        now = self.clock()
        if row is None:
            self._create(business_id)
            report.created.append(business_id)
        elif parse_time(row.expires_at) <= now:
            self._replace(row.subscription_id, reason="lapsed")
            report.recreated.append(business_id)
        elif self.policy.renewal_due(row, now):
            try:
                self._renew(row)
                report.renewed.append(business_id)
            except NotFound:
                self._replace(row.subscription_id, reason="removed")
                report.recreated.append(business_id)
        else:
            report.unchanged.append(business_id)

    def _renew(self, row: GraphSubscription) -> None:
        granted = self.graph.renew(row.subscription_id, self.clock() + self.policy.lifetime)
        # Graph may grant less than asked (graph-facts §6.10): what it returns is the truth.
        with self.ledger.transaction() as tx:
            update_subscription(tx.session, row.subscription_id, self.clock(), expires_at=format_time(granted.expiration))

    def _create(self, business_id: str) -> str:
        client_state = new_client_state()
        owner_id = self.graph.mailbox_owner_id(business_id)
        resource, change_type = self.watched.get(business_id) or (resource_for(business_id), EVENTS_CHANGES)
        with self.ledger.transaction() as tx:
            pending_id = save_pending(tx.session, self.client_state_keys, business_id=business_id,
                                      resource=resource, client_state=client_state, now=self.clock(),
                                      mailbox_user_id=owner_id)
        try:
            created = self.graph.create(
                resource=resource, notification_url=self.urls[0], change_type=change_type,
                lifecycle_notification_url=self.urls[1], client_state=client_state,
                expiration=self.clock() + self.policy.lifetime,
            )
        except OutcomeUnknown:
            created = self._find_by_client_state(client_state)
            if created is None:
                self._forget(pending_id)
                raise
        except Exception:
            self._forget(pending_id)
            raise
        return self._promote(pending_id, created)

    def _promote(self, pending_id: str, created: Subscription) -> str:
        with self.ledger.transaction() as tx:
            promote_pending(tx.session, pending_id, subscription_id=created.id,
                            expires_at=created.expiration, now=self.clock())
        log.info("subscription %s created", created.id)
        return created.id

    def _settle_pending(self) -> None:
        # A crash between Graph's 201 and our save leaves a pending row: adopt the subscription
        # Graph made (found by its clientState), or forget a create that never happened.
        pending = subscriptions_in_state(self.ledger.engine, "pending")
        if not pending:
            return
        live = self.graph.list()
        for row in pending:
            match = next((s for s in live if client_state_matches(self.client_state_keys, row, s.client_state)), None)
            if match is not None:
                self._promote(row.subscription_id, match)
            else:
                self._forget(row.subscription_id)

    def _find_by_client_state(self, client_state: str) -> Subscription | None:
        return next((s for s in self.graph.list() if s.client_state == client_state), None)

    def _forget(self, subscription_id: str) -> None:
        with self.ledger.transaction() as tx:
            forget_subscription(tx.session, subscription_id)
