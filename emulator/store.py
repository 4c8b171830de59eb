"""Bookings state: businesses with their services, staff, customers, questions and appointments.

One re-entrant lock guards everything; each write tells the listeners (the mailbox projection,
Bookings' own mail) what changed, inside the lock, so a notification is never built from a
half-applied change. An appointment about to leave is announced first, while it can still be
read, with the reason ("cancelling", "deleting", "eventDeleted" when its calendar copy was
deleted, "purging" when its business goes), then "deleted".
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from . import entities
from .appointment_customers import CustomerResolver, check_patch_elements
from .clock import Clock
from .errors import GraphError, not_found
from .ids import IdFactory
from .index import SortedIndex
from .options import Options
from .records import Interner, thaw
from .timefmt import iso_utc

# (created|updated|deleted or a reason for leaving, business, appointment id)
Listener = Callable[[str, "Business", str], None]


@dataclass
class Collection:
    """Services, staff members, customers or custom questions, kept in insertion order."""

    items: dict[str, dict] = field(default_factory=dict)
    order: SortedIndex = field(default_factory=SortedIndex)
    positions: dict[str, int] = field(default_factory=dict)
    counter: int = 0

    def put(self, item: dict) -> None:
        """Add an item at the end of the order."""
        self.counter += 1
        self.items[item["id"]] = item
        self.positions[item["id"]] = self.counter
        self.order.add(self.counter, item["id"])

    def pop(self, item_id: str) -> dict:
        """Remove an item (404 when missing)."""
        if item_id not in self.items:
            raise not_found()
        self.order.remove(self.positions.pop(item_id), item_id)
        return self.items.pop(item_id)


@dataclass
class Business:
    """One booking business and its scheduling mailbox."""

    data: dict
    mailbox_user_id: str
    collections: dict[str, Collection] = field(default_factory=lambda: {k: Collection() for k in entities.ENTITY_DEFAULTS})
    appointments: dict[str, tuple] = field(default_factory=dict)  # id -> compact record (records.py)
    times: dict[str, tuple[float, float]] = field(default_factory=dict)
    by_start: SortedIndex = field(default_factory=SortedIndex)
    longest: float = 0.0  # longest appointment, so an overlap scan knows how far back to start
    cancelled: list[dict] = field(default_factory=list)
    # The scheduling mailbox's mailboxSettings: where Graph keeps the business's time zone
    # (bookingBusiness has no timeZone property, graph-facts §1.1).
    mailbox_settings: dict = field(default_factory=entities.mailbox_settings_defaults)

    @property
    def id(self) -> str:
        return self.data["id"]

    def appointment(self, appointment_id: str) -> dict | None:
        """An appointment as a dict (without the GET-by-id/list differences), or None."""
        record = self.appointments.get(appointment_id)
        return None if record is None else thaw(record, *self.times[appointment_id])

    def index_appointment(self, appointment_id: str, start: float, end: float) -> None:
        """(Re)index an appointment by its start time."""
        if appointment_id in self.times:
            self.by_start.remove(self.times[appointment_id][0], appointment_id)
        self.times[appointment_id] = (start, end)
        self.by_start.add(start, appointment_id)
        self.longest = max(self.longest, end - start)

    def unindex_appointment(self, appointment_id: str) -> None:
        """Forget an appointment."""
        start, _ = self.times.pop(appointment_id)
        self.by_start.remove(start, appointment_id)
        del self.appointments[appointment_id]

    def overlapping(self, start: float, end: float, after: tuple | None = None):
        """Keys of appointments overlapping [start, end), in start order."""
        for key in self.by_start.scan(after=after, lower=start - self.longest, upper=end):
            if self.times[key[1]][1] > start:
                yield key


class BookingStore:
    """All booking businesses; the Bookings routes, the seeder and the traffic simulator write here."""

    def __init__(self, clock: Clock, ids: IdFactory, options: Options) -> None:
        self.clock = clock
        self.ids = ids
        self.options = options
        self.lock = threading.RLock()
        self.businesses: dict[str, Business] = {}
        self.listeners: list[Listener] = []
        self.interner = Interner()
        self.customers = CustomerResolver(options, ids.guid, clock.now)

    # Businesses -------------------------------------------------------------------------------
    def business(self, business_id: str) -> Business:
        """A business by id (its SMTP address, case-insensitive); 404 when unknown."""
        found = self.businesses.get(business_id.lower())
        if found is None:
            raise not_found(f"The booking business '{business_id}' was not found.")
        return found

    def add_business(self, body: dict) -> Business:
        """Create a business; its id is its email address, as in Graph's examples (§1.1)."""
        body = entities.strip_annotations(body)
        entities.check_business_properties(body)
        email = body.get("email") or body.get("id")
        if not email or "@" not in email:
            raise GraphError(400, "BadRequest", "A booking business needs an email address.")
        now = iso_utc(self.clock.now())
        data = {"id": email, "displayName": body.get("displayName") or email.split("@")[0], "businessType": None,
                "phone": None, "email": email, "webSiteUrl": None, "defaultCurrencyIso": "USD", "isPublished": False,
                "publicUrl": None, "languageTag": "en-US", "address": entities.location(None)["address"],
                "businessHours": [], "schedulingPolicy": None, "bookingPageSettings": None,
                **{k: v for k, v in body.items() if k not in ("id", "email")},
                "createdDateTime": now, "lastUpdatedDateTime": now}
        with self.lock:
            if email.lower() in self.businesses:
                raise GraphError(409, "ErrorItemAlreadyExists", f"The booking business '{email}' already exists.")
            business = Business(data=data, mailbox_user_id=self.ids.guid())
            self.businesses[email.lower()] = business
        return business

    def remove_business(self, business_id: str) -> None:
        """Delete a business and everything in it (each appointment leaves its mailbox)."""
        with self.lock:
            business = self.business(business_id)
            for appointment_id in list(business.appointments):
                self.delete_appointment(business.id, appointment_id, reason="purging")
            del self.businesses[business.id.lower()]

    # Services, staff, customers, custom questions ---------------------------------------------
    def create_entity(self, business_id: str, kind: str, body: dict) -> dict:
        """Create a service, staff member, customer or custom question."""
        with self.lock:
            business = self.business(business_id)
            entity = entities.build_entity(kind, body, entity_id=self.ids.guid(), now=self.clock.now())
            business.collections[kind].put(entity)
            return entity

    def entity(self, business_id: str, kind: str, entity_id: str) -> dict:
        """One entity; 404 when missing."""
        found = self.business(business_id).collections[kind].items.get(entity_id)
        if found is None:
            raise not_found()
        return found

    def update_entity(self, business_id: str, kind: str, entity_id: str, body: dict) -> dict:
        """PATCH an entity."""
        with self.lock:
            entity = self.entity(business_id, kind, entity_id)
            entities.patch_entity(entity, body, now=self.clock.now())
            return entity

    def delete_entity(self, business_id: str, kind: str, entity_id: str) -> None:
        """DELETE an entity. Appointments keep their own copy of customer data (§6 of DESIGN)."""
        with self.lock:
            self.business(business_id).collections[kind].pop(entity_id)

    # Appointments -------------------------------------------------------------------------------
    def appointment(self, business_id: str, appointment_id: str) -> dict:
        """One appointment; 404 when missing."""
        with self.lock:
            found = self.business(business_id).appointment(appointment_id)
        if found is None:
            raise not_found()
        return found

    def create_appointment(self, business_id: str, body: dict) -> dict:
        """Create an appointment (POST …/appointments)."""
        with self.lock:
            business = self.business(business_id)
            appointment, start, end = self._build_appointment(business, body)
            business.appointments[appointment["id"]] = self.interner.record(appointment)
            business.index_appointment(appointment["id"], start, end)
            self._emit("created", business, appointment["id"])
            return appointment

    def update_appointment(self, business_id: str, appointment_id: str, body: dict) -> None:
        """PATCH an appointment; the legacy customer fields are ignored as documented (§1.5)."""
        if "customers" in body:
            check_patch_elements(body["customers"], self.options)
        body = entities.strip_annotations(body)
        with self.lock:
            business = self.business(business_id)
            appointment = self.appointment(business_id, appointment_id)
            start, end = entities.appointment_times(body, self._times(business, appointment_id))
            legacy_ignored = self.options.quirk_legacy_customer_fields_ignored_by_patch
            fields = entities.appointment_fields(body, creating=False, legacy_ignored=legacy_ignored)
            appointment.update(fields)
            if "customers" in body:
                appointment["customers"] = self.customers.on_patch(business.collections["customers"], appointment, body["customers"])
                if self.options.legacy_fields_follow_customers:
                    # Graph's legacy fields mirror the single customer, so they follow its rewrite
                    # (a field this same body set, where allowed, wins).
                    self._mirror_legacy(appointment, skip=set(fields))
            self._complete(business, appointment, start, end)
            appointment["lastUpdatedDateTime"] = iso_utc(self.clock.now())
            business.appointments[appointment_id] = self.interner.record(appointment)
            business.index_appointment(appointment_id, start.timestamp(), end.timestamp())
            self._emit("updated", business, appointment_id)

    def delete_appointment(self, business_id: str, appointment_id: str, *, reason: str = "deleting") -> None:
        """DELETE an appointment; ``reason`` (see the module docstring) is announced before it goes."""
        with self.lock:
            business = self.business(business_id)
            if appointment_id not in business.appointments:
                raise not_found()
            self._emit(reason, business, appointment_id)
            business.unindex_appointment(appointment_id)
            self._emit("deleted", business, appointment_id)

    def cancel_appointment(self, business_id: str, appointment_id: str, message: str | None) -> None:
        """Cancel: the appointment leaves the calendar, the cancellation is remembered (no PII)."""
        with self.lock:
            business = self.business(business_id)
            self.delete_appointment(business_id, appointment_id, reason="cancelling")
            business.cancelled.append({"id": appointment_id, "cancellationMessage": message,
                                       "cancelledDateTime": iso_utc(self.clock.now())})

    def bulk_create(self, business_id: str, bodies: Iterable[dict]) -> None:
        """Create many appointments at once, without notifications and with one sort (seeding)."""
        with self.lock:
            business = self.business(business_id)
            keys = list(business.by_start.scan())
            for body in bodies:
                appointment, start, end = self._build_appointment(business, body)
                business.appointments[appointment["id"]] = self.interner.record(appointment)
                business.times[appointment["id"]] = (start, end)
                business.longest = max(business.longest, end - start)
                keys.append((start, appointment["id"]))
            business.by_start = SortedIndex(keys)

    # Helpers ---------------------------------------------------------------------------------------
    def _build_appointment(self, business: Business, body: dict) -> tuple[dict, float, float]:
        """A new appointment from a POST body, with its start and end as timestamps."""
        body = entities.strip_annotations(body)
        start, end = entities.appointment_times(body, None)
        now = iso_utc(self.clock.now())
        appointment = {"id": self.ids.exchange_id(), **entities.APPOINTMENT_DEFAULTS,
                       "serviceLocation": entities.location(None),
                       **entities.appointment_fields(body, creating=True, legacy_ignored=False),
                       "createdDateTime": now, "lastUpdatedDateTime": now}
        appointment["customers"] = self.customers.on_create(business.collections["customers"], body.get("customers") or [])
        self._complete(business, appointment, start, end)
        if appointment["isLocationOnline"] and not appointment["joinWebUrl"]:
            appointment["joinWebUrl"] = f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{self.ids.token(18)}%40thread.v2/0"
        return appointment, start.timestamp(), end.timestamp()

    def _times(self, business: Business, appointment_id: str) -> tuple[datetime, datetime]:
        start, end = business.times[appointment_id]
        return datetime.fromtimestamp(start, timezone.utc), datetime.fromtimestamp(end, timezone.utc)

    def _complete(self, business: Business, appointment: dict, start: datetime, end: datetime) -> None:
        """Fill computed fields: times, duration, attendee count, service name, legacy customer fields."""
        entities.set_appointment_times(appointment, start, end)
        appointment["filledAttendeesCount"] = len(appointment["customers"])
        service = business.collections["services"].items.get(appointment["serviceId"] or "")
        if service and not appointment["serviceName"]:
            appointment["serviceName"] = service.get("displayName")
        if appointment["customerName"] is None and len(appointment["customers"]) == 1:
            self._mirror_legacy(appointment, skip=set())

    @staticmethod
    def _mirror_legacy(appointment: dict, *, skip: set[str]) -> None:
        """Legacy single-customer fields mirror the one customer; multi-customer ones are null (§1.2)."""
        customers = appointment["customers"]
        single = customers[0] if len(customers) == 1 and (appointment["maximumAttendeesCount"] or 1) <= 1 else {}
        for name, source in entities.LEGACY_MIRRORED.items():
            if name not in skip:
                appointment[name] = single.get(source)

    def _emit(self, kind: str, business: Business, appointment_id: str) -> None:
        for listener in self.listeners:
            listener(kind, business, appointment_id)
