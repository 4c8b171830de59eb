"""What the rest of the service sees of Graph: frozen dataclasses (parse.py fills them).

No SDK model leaves the connector. Fields holding personal data are left out of `repr()`, so
a logged object never leaks them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from .errors import GraphError

T = TypeVar("T")


def pii() -> Any:
    """A dataclass field holding personal data: hidden from repr."""
    return field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class QuestionAnswer:
    """An answer to a business's custom question (free text: may be personal data)."""

    question_id: str | None
    question: str | None = pii()
    answer: str | None = pii()
    selected_options: tuple[str, ...] = field(default=(), repr=False)


@dataclass(frozen=True, slots=True)
class CustomerInfo:
    """One element of an appointment's `customers[]` (bookingCustomerInformation)."""

    customer_id: str | None
    name: str | None = pii()
    email: str | None = pii()
    phone: str | None = pii()
    notes: str | None = pii()
    time_zone: str | None = None
    answers: tuple[QuestionAnswer, ...] = field(default=(), repr=False)

    def to_json(self) -> dict[str, Any]:
        """The body Graph expects inside a PATCH of `customers[]`."""
        body: dict[str, Any] = {
            "@odata.type": "#microsoft.graph.bookingCustomerInformation",
            "name": self.name, "emailAddress": self.email, "phone": self.phone,
            "timeZone": self.time_zone,
            "customQuestionAnswers": [
                {"questionId": a.question_id, "question": a.question, "answer": a.answer,
                 "selectedOptions": list(a.selected_options)} for a in self.answers
            ],
        }
        if self.customer_id:
            body["customerId"] = self.customer_id
        return body


@dataclass(frozen=True, slots=True)
class Appointment:
    """A bookingAppointment; `customers` is `customers[]`, or the legacy fields when that is empty."""

    id: str
    business_id: str
    start: datetime | None
    end: datetime | None
    service_id: str | None = None
    service_name: str | None = None
    staff_member_ids: tuple[str, ...] = ()
    created: datetime | None = None
    last_updated: datetime | None = None
    duration: str | None = None
    self_service_appointment_id: str | None = None
    is_location_online: bool | None = None
    filled_attendees_count: int | None = None
    maximum_attendees_count: int | None = None
    opt_out_of_customer_email: bool | None = None
    customers: tuple[CustomerInfo, ...] = field(default=(), repr=False)
    legacy_customer: CustomerInfo | None = field(default=None, repr=False)
    service_notes: str | None = pii()
    customer_notes: str | None = pii()


@dataclass(frozen=True, slots=True)
class Address:
    """A physical address of a booking customer (personal data)."""

    street: str | None = pii()
    city: str | None = pii()
    state: str | None = pii()
    postal_code: str | None = pii()
    country: str | None = pii()


@dataclass(frozen=True, slots=True)
class Phone:
    """A phone number of a booking customer, with its kind (home, business, mobile)."""

    kind: str | None
    number: str | None = pii()


@dataclass(frozen=True, slots=True)
class Customer:
    """A bookingCustomer record of a business."""

    id: str
    business_id: str
    display_name: str | None = pii()
    email: str | None = pii()
    phones: tuple[Phone, ...] = field(default=(), repr=False)
    addresses: tuple[Address, ...] = field(default=(), repr=False)
    created: datetime | None = None
    last_updated: datetime | None = None


@dataclass(frozen=True, slots=True)
class Business:
    """A bookingBusiness; the list endpoint fills only id and display_name."""

    id: str
    display_name: str | None
    email: str | None = None
    business_type: str | None = None
    is_published: bool | None = None
    default_currency: str | None = None
    language_tag: str | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """An event in a mailbox calendar, without subject or body (Bookings strips them anyway);
    `removed` is set for delta entries that say the event left the window or was deleted."""

    id: str
    start: datetime | None = None
    end: datetime | None = None
    is_cancelled: bool | None = None
    created: datetime | None = None
    last_modified: datetime | None = None
    i_cal_uid: str | None = None
    change_key: str | None = None
    removed: str | None = None


@dataclass(frozen=True, slots=True)
class MailMessage:
    """A message of a mailbox (the privacy mailbox's Inbox): `text` is the body as plain text,
    `headers` its internet message headers in order (names as sent), `is_ndr` whether it is a
    non-delivery report (Exchange's NDR header, or a multipart/report)."""

    id: str
    received_at: datetime | None
    sender: str | None = pii()
    subject: str | None = pii()
    text: str | None = pii()
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    is_ndr: bool = False

    def header(self, name: str) -> str | None:
        """The first value of the header `name` (case-insensitive), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)


@dataclass(frozen=True, slots=True)
class Subscription:
    """A Graph change-notification subscription; `expiration` is what Graph granted."""

    id: str
    resource: str
    change_type: str
    notification_url: str
    expiration: datetime | None
    lifecycle_notification_url: str | None = None
    client_state: str | None = field(default=None, repr=False)
    application_id: str | None = None


@dataclass(frozen=True, slots=True)
class AppointmentUpdate:
    """A PATCH of an appointment; None leaves a field as it is (the legacy flat customer
    fields and customerNotes cannot be changed by PATCH at all, graph-facts §1.5)."""

    customers: tuple[CustomerInfo, ...] | None = field(default=None, repr=False)
    service_notes: str | None = pii()

    def to_json(self) -> dict[str, Any]:
        """The PATCH body."""
        body: dict[str, Any] = {"@odata.type": "#microsoft.graph.bookingAppointment"}
        if self.customers is not None:
            body["customers"] = [c.to_json() for c in self.customers]
        if self.service_notes is not None:
            body["serviceNotes"] = self.service_notes
        return body


@dataclass(frozen=True, slots=True)
class CustomerUpdate:
    """A PATCH of a bookingCustomer; None leaves a field as it is, () empties a list."""

    display_name: str | None = pii()
    email: str | None = pii()
    phones: tuple[Phone, ...] | None = field(default=None, repr=False)
    addresses: tuple[Address, ...] | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The PATCH body; the collection is polymorphic, so the concrete type is named."""
        body: dict[str, Any] = {"@odata.type": "#microsoft.graph.bookingCustomer"}
        if self.display_name is not None:
            body["displayName"] = self.display_name
        if self.email is not None:
            body["emailAddress"] = self.email
        if self.phones is not None:
            body["phones"] = [{"type": p.kind, "number": p.number} for p in self.phones]
        if self.addresses is not None:
            body["addresses"] = [
                {"street": a.street, "city": a.city, "state": a.state, "postalCode": a.postal_code,
                 "countryOrRegion": a.country} for a in self.addresses
            ]
        return body


@dataclass(frozen=True, slots=True)
class ItemResult(Generic[T]):
    """The outcome of one item of a batched operation: `value` on success, else `error`; the HTTP
    status and Graph's request id (the item's, else its envelope's) are evidence of what Graph did."""

    id: str
    value: T | None = None
    error: GraphError | None = None
    status: int | None = None
    request_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None
