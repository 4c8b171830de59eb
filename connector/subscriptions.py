"""Change-notification subscriptions: create, list, renew, reauthorize, delete.

A handful of calls a day, so these use the SDK's typed models (speed does not matter here);
they are converted to our Subscription dataclass before leaving the connector. The SDK is
imported inside each call so that importing the connector never imports msgraph.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from .models import Subscription
from .session import GraphSession

ROUTE = "/subscriptions"


def _to_model(sub: Any) -> Subscription:
    return Subscription(
        id=sub.id, resource=sub.resource, change_type=sub.change_type, notification_url=sub.notification_url,
        expiration=sub.expiration_date_time, lifecycle_notification_url=sub.lifecycle_notification_url,
        client_state=sub.client_state, application_id=sub.application_id,
    )


class Subscriptions:
    """Graph subscriptions of this app; every method is synchronous and thread-safe."""

    def __init__(self, session: GraphSession) -> None:
        self._session = session

    def create(
        self, *, resource: str, notification_url: str, lifecycle_notification_url: str, client_state: str,
        expiration: datetime, change_type: str = "created,updated,deleted",
    ) -> Subscription:
        """Create a subscription with immutable ids; read `expiration` back, Graph may grant less.

        A POST: on a timeout it raises OutcomeUnknown rather than risk a duplicate; list and
        match on `client_state` to find out.
        """
        from kiota_abstractions.base_request_configuration import RequestConfiguration
        from kiota_abstractions.headers_collection import HeadersCollection
        from msgraph.generated.models.subscription import Subscription as SdkSubscription

        # A fresh HeadersCollection: a shared default instance would leak Prefer into later calls.
        headers = HeadersCollection()
        headers.add("Prefer", 'IdType="ImmutableId"')
        body = SdkSubscription(
            change_type=change_type, notification_url=notification_url, resource=resource,
            lifecycle_notification_url=lifecycle_notification_url, expiration_date_time=expiration,
            client_state=client_state,
        )
        created = self._session.typed(
            lambda c: c.subscriptions.post(body, request_configuration=RequestConfiguration(headers=headers)),
            method="POST", route=ROUTE,
        )
        return _to_model(created)

    def list(self) -> list[Subscription]:
        """Every subscription of this app, all pages."""
        found: list[Subscription] = []
        page = self._session.typed(lambda c: c.subscriptions.get(), method="GET", route=ROUTE)
        while page is not None:
            found.extend(_to_model(s) for s in page.value or ())
            link = page.odata_next_link
            page = link and self._session.typed(lambda c: c.subscriptions.with_url(link).get(),
                                                method="GET", route=ROUTE)
        return found

    def renew(self, subscription_id: str, expiration: datetime) -> Subscription:
        """Extend a subscription (this also reauthorizes it); returns what Graph granted."""
        from msgraph.generated.models.subscription import Subscription as SdkSubscription

        body = SdkSubscription(expiration_date_time=expiration)
        renewed = self._session.typed(
            lambda c: c.subscriptions.by_subscription_id(subscription_id).patch(body),
            method="PATCH", route=f"{ROUTE}/{{id}}",
        )
        return _to_model(renewed)

    def reauthorize(self, subscription_id: str) -> None:
        """Answer a reauthorizationRequired lifecycle event without extending the expiry."""
        self._session.typed(
            lambda c: c.subscriptions.by_subscription_id(subscription_id).reauthorize.post(),
            method="POST", route=f"{ROUTE}/{{id}}/reauthorize",
            idempotent=True,  # reauthorizing twice is harmless, so a timeout may be retried
        )

    def delete(self, subscription_id: str) -> None:
        """Delete a subscription; NotFound means Graph already removed it."""
        self._session.typed(
            lambda c: c.subscriptions.by_subscription_id(subscription_id).delete(),
            method="DELETE", route=f"{ROUTE}/{{id}}",
        )

    def mailbox_owner_id(self, mailbox: str) -> str:
        """The directory object id of a mailbox: what Graph names it by in every notification's
        `resource` (`Users/{id}/Events/{eventId}`), so the receiver can tell its own (User.Read.All)."""
        found = self._session.get(f"/users/{quote(mailbox, safe='@')}", mailbox=mailbox, params={"$select": "id"})
        return str(found["id"])
