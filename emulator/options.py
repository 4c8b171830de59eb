"""Every switch of the emulator in one dataclass: Graph limits, quirks, timings, identity.

Defaults follow Graph's documented behaviour (graph-facts.md); the quirks of section 6 that
are reports rather than documented rules are off until a test turns them on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from .errors import GraphError

# The application permissions the service needs (graph-facts §1.6, §2.1, DESIGN.md).
DEFAULT_PERMISSIONS = ("BookingsAppointment.ReadWrite.All", "Bookings.ReadWrite.All", "Calendars.Read", "Mail.ReadWrite",
                       "Mail.Send", "MailboxSettings.Read", "User.Read.All")


@dataclass
class Options:
    """Emulator settings; change them at construction or through ``POST /_emulator/options``."""

    # Paging: server-driven page size of collections (Graph picks its own; 100 is typical).
    page_size: int = 100
    # The event id of an appointment's mailbox copy. UNCONFIRMED in Graph (§2.1), so default to
    # the pessimistic case: a different id, found only by re-reading Bookings.
    event_id_equals_appointment_id: bool = False

    # Quirks (§6). Documented behaviour is on, field reports are off.
    quirk_empty_customers_in_lists: bool = False
    quirk_legacy_customer_fields_ignored_by_patch: bool = True  # documented (bookingappointment-update)
    quirk_start_end_aliases: bool = False
    quirk_fractional_retry_after: bool = False
    quirk_renewal_grants_less: bool = False
    renewal_grant_minutes: float = 5.0  # what a short renewal grants (learn Q&A 1037466 saw +5 min)
    batch_shuffle_responses: bool = True  # json-batching: responses "may be in a different order"

    # Bookings erasure surfaces (privacy-facts §2). Documented rules are fixed; the UNCONFIRMED
    # and CONFLICT points are switches, defaulting to the current docs or the latest report.
    # PATCH customers[] with a customerId the business does not have: "reject" (400, current
    # learn page), "drop" (older page: silently dropped) or "register" (the emulator's former
    # leniency: the id becomes a new bookingCustomer).
    patch_unknown_customer_id: str = "reject"
    accept_empty_customers: bool = True        # UNCONFIRMED: customers: [] on a one-customer appointment
    patch_keeps_custom_answers: bool = False   # UNCONFIRMED: answers survive a copy-back that omits them
    legacy_fields_follow_customers: bool = True  # legacy customer* fields mirror the rewritten single customer
    quirk_delete_appointment_mails_customers: bool = True  # docs-contrib#9012: DELETE also mailed cancellations
    opt_out_suppresses_delete_mail: bool = False  # UNCONFIRMED: optOutOfCustomerEmail stops that mail
    quirk_delete_customer_500_rate: float = 0.0  # docs-contrib#9012: 500 although the customer was deleted
    event_body_has_custom_answers: bool = True  # CONFLICT: 2020 reports (docs-contrib#4577) over 2018 (samples#7)
    event_delete_removes_appointment: bool = False  # UNCONFIRMED: deleting the event copy leaves Bookings alone
    recoverable_items_days: float = 14.0  # Recoverable Items retention (default 14, at most 30)
    litigation_hold: bool = False  # a hold keeps Recoverable Items regardless of the retention
    # mailboxSettings.timeZone comes back as it was set; on, an IANA name comes back as its Windows name.
    mailbox_time_zone_windows_names: bool = False
    object_log_size: int = 100000  # write requests kept per object (GET /_emulator/requests/objects)

    # Subscriptions (§2.2–2.4).
    min_expiration_minutes: float = 45.0
    max_expiration_minutes: float = 4230.0
    max_expiration_minutes_rich: float = 1440.0
    subscriptions_per_mailbox: int = 1000
    validation_timeout_s: float = 10.0
    reauthorization_window_minutes: float = 60.0  # reauthorizationRequired once expiry is this close
    # Outlook messages: 4,230 min is documented (privacy-facts §1.3); 10,080 from secondary sources is UNCONFIRMED.
    message_subscription_max_minutes: float = 4230.0

    # Mail transport (privacy-facts §1.8): recipients (addresses or domains) that bounce with an NDR
    # into the sender's Inbox, besides every domain ending in ".invalid".
    bouncing_addresses: list[str] = field(default_factory=list)

    # Delivery (§2.6).
    delivery_timeout_s: float = 3.0
    slow_threshold_s: float = 2.9
    slow_min_samples: int = 100
    slow_throttle_ratio: float = 0.10
    slow_drop_ratio: float = 0.15
    throttle_delay_s: float = 600.0
    counter_flush_s: float = 600.0
    retry_initial_s: float = 5.0
    retry_max_s: float = 600.0
    retry_horizon_s: float = 4 * 3600.0
    batch_window_s: float = 0.05  # changes this close together share one POST
    reorder_delay_s: float = 0.5  # how long a "reordered" notification is held back

    # Outlook per-mailbox limits per app (§3): on, as Graph enforces them.
    mailbox_limits: bool = True
    mailbox_concurrency: int = 4
    mailbox_requests_per_window: int = 10000
    mailbox_window_s: float = 600.0
    # Delta tokens (§2.9): Outlook's lifetime depends on a cache, so none by default; a number of
    # minutes makes older tokens expire (410 Gone) on the emulator's clock.
    delta_token_max_age_minutes: float | None = None
    request_log_size: int = 200  # requests kept by the header log (GET /_emulator/requests/log)

    # Identity (§1.6, §2.1). Default: any non-empty bearer token is accepted.
    strict_auth: bool = False
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    token_lifetime_s: int = 3599
    granted_permissions: list[str] = field(default_factory=lambda: list(DEFAULT_PERMISSIONS))
    # Mailboxes (addresses) outside the app's Exchange RBAC scope or application access policy:
    # their mail, calendar and settings answer 403 "Access to OData is disabled." (privacy-facts §1.12).
    mailboxes_outside_app_scope: list[str] = field(default_factory=list)

    def update(self, changes: dict) -> None:
        """Apply a partial mapping of option names to values; unknown names are a 400."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise GraphError(400, "BadRequest", f"Unknown options: {', '.join(sorted(unknown))}")
        for name, value in changes.items():
            setattr(self, name, value)

    def as_dict(self) -> dict:
        """All options as plain JSON values."""
        return asdict(self)
