"""What personal data one Bookings appointment holds, field by field, and how the policy classifies it.

Each customer on an appointment is a data subject of their own (`Person`). Their values are
keyed by the name the ledger stores them under: subject-level fields (name, email, phone, time
zone) by plain name, so `email` and `phone` get blind indexes and one person's latest value is
kept once; booking-level fields (time, service, notes, answers) under a per-appointment prefix
(`<tag>.start`), so a person's two bookings never overwrite each other. Each stored field maps
to the Graph field path the retention policy names (`customers[].emailAddress`). A business's
customer record (`customer_record`) is a person of its own, under the same subject-level names.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from config.retention import RetentionCategory, RetentionPolicy
from connector.models import Address, Appointment, Customer, CustomerInfo
from ledger.identifiers import IdentifierError, normalise_email, normalise_phone
from database.times import format_time
from state.retention_dues import Clock

DIGEST_CONTEXT = b"bookings-ledger/ingestion/content-digest/v2"
PREFIX_BYTES = 6  # 12 hex characters: unique enough per subject, short enough for a 64-char field name


def _text(value: object) -> str | None:
    if value is None or value == "" or value == ():
        return None
    if isinstance(value, datetime):
        return format_time(value)
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _answers(info: CustomerInfo) -> list[list[object]] | None:
    answers = [[a.question_id, a.question, a.answer, list(a.selected_options)] for a in info.answers if a.answer or a.selected_options]
    return answers or None


# (stored name, policy field path, getter); booking-level ones are stored under the prefix.
BOOKING_FIELDS: tuple[tuple[str, str, Callable[[Appointment], object]], ...] = (
    ("start", "startDateTime", lambda a: a.start),
    ("end", "endDateTime", lambda a: a.end),
    ("duration", "duration", lambda a: a.duration),
    ("service_id", "serviceId", lambda a: a.service_id),
    ("service", "serviceName", lambda a: a.service_name),
    ("service_notes", "serviceNotes", lambda a: a.service_notes),
    ("notes", "customerNotes", lambda a: a.customer_notes),
    ("opt_out_email", "optOutOfCustomerEmail", lambda a: a.opt_out_of_customer_email),
)
CUSTOMER_BOOKING_FIELDS: tuple[tuple[str, str, Callable[[CustomerInfo], object]], ...] = (
    ("customer_notes", "customers[].notes", lambda c: c.notes),
    ("answers", "customers[].customQuestionAnswers", _answers),
)
SUBJECT_FIELDS: tuple[tuple[str, str, Callable[[CustomerInfo], object]], ...] = (
    ("name", "customers[].name", lambda c: c.name),
    ("email", "customers[].emailAddress", lambda c: c.email),
    ("phone", "customers[].phone", lambda c: c.phone),
    ("time_zone", "customers[].timeZone", lambda c: c.time_zone),
)
ALL_PATHS = tuple(path for group in (BOOKING_FIELDS, CUSTOMER_BOOKING_FIELDS, SUBJECT_FIELDS) for _, path, _ in group)


def _phones(customer: Customer) -> list[list[str | None]] | None:
    return [[p.kind, p.number] for p in customer.phones if p.number] or None


def _address(a: Address) -> list[str | None]:
    return [a.street, a.city, a.state, a.postal_code, a.country]


# A bookingCustomer record's fields (stored name, policy field path, getter). The first phone
# number is also stored as `phone`, so a request by phone number finds the subject (blind index).
CUSTOMER_FIELDS: tuple[tuple[str, str, Callable[[Customer], object]], ...] = (
    ("name", "customer.displayName", lambda c: c.display_name),
    ("email", "customer.emailAddress", lambda c: c.email),
    ("phone", "customer.phones", lambda c: next((p.number for p in c.phones if p.number), None)),
    ("phones", "customer.phones", _phones),
    ("addresses", "customer.addresses", lambda c: [_address(a) for a in c.addresses if any(_address(a))] or None),
)
CUSTOMER_PATHS = tuple(path for _, path, _ in CUSTOMER_FIELDS)
# Returned only by GET of a single appointment (graph-facts §1.2, §1.3), never by lists.
LIST_OMITTED = frozenset({"service_notes", "notes", "customer_notes"})
# Blind indexes need a normalisable value; anything else is kept, unindexed, under another name.
UNINDEXED = {"email": "email_text", "phone": "phone_text"}


@dataclass(frozen=True)
class Person:
    """One customer of an appointment: stored field name -> value, and -> policy field path."""

    key: str                  # the Bookings customer id, or "#n" when Graph gave none
    customer_id: str | None
    values: dict[str, str]
    paths: dict[str, str]


def check_policy(policy: RetentionPolicy) -> None:
    """Fail at start when the policy leaves a field ingestion stores unclassified."""
    missing = [path for path in ALL_PATHS + CUSTOMER_PATHS if policy.for_field(path) is None]
    if missing:
        raise ValueError(f"the retention policy classifies none of: {', '.join(missing)}")


Field = tuple[str, str, str | None]  # (stored name, policy path, value)


def people(appointment: Appointment, phone_region: str) -> list[Person]:
    """The appointment's customers with their personal data (empty when it has none)."""
    prefix = _prefix(appointment)
    found = []
    for index, info in enumerate(appointment.customers):
        fields = _booking_fields(appointment)
        fields += [(f"{prefix}.{name}", path, _text(get(info))) for name, path, get in CUSTOMER_BOOKING_FIELDS]
        fields += [(_indexable(name, _text(get(info)), phone_region), path, _text(get(info))) for name, path, get in SUBJECT_FIELDS]
        found.append(_person(customer_key(info, index), info.customer_id, fields))
    return found


def customer_key(info: CustomerInfo, index: int) -> str:
    """The key of the appointment's `index`th customer: its Bookings customer id, or `#index` without one."""
    return info.customer_id or f"#{index}"


def customer_record(customer: Customer, phone_region: str) -> Person:
    """The personal data of a business's customer record (keyed by its customer id)."""
    fields = [(_indexable(name, _text(get(customer)), phone_region), path, _text(get(customer)))
              for name, path, get in CUSTOMER_FIELDS]
    return _person(customer.id, customer.id, fields)


def booking_only(appointment: Appointment) -> Person:
    """An appointment without customers: its booking fields, which describe no one (never stored)."""
    return _person("", None, _booking_fields(appointment))


def field_prefix(appointment_id: str) -> str:
    """The prefix of an appointment's booking-level stored field names (`<prefix>.start`)."""
    return hashlib.sha256(appointment_id.encode()).hexdigest()[: 2 * PREFIX_BYTES]


def _prefix(appointment: Appointment) -> str:
    return field_prefix(appointment.id)


def _booking_fields(appointment: Appointment) -> list[Field]:
    prefix = _prefix(appointment)
    return [(f"{prefix}.{name}", path, _text(get(appointment))) for name, path, get in BOOKING_FIELDS]


def _person(key: str, customer_id: str | None, fields: list[Field]) -> Person:
    kept = [(name, path, value) for name, path, value in fields if value is not None]
    return Person(key=key, customer_id=customer_id, values={name: value for name, _, value in kept},
                  paths={name: path for name, path, _ in kept})


def _indexable(name: str, value: str | None, phone_region: str) -> str:
    try:
        if value is not None and name == "email":
            normalise_email(value)
        elif value is not None and name == "phone":
            normalise_phone(value, phone_region)
    except IdentifierError:
        return UNINDEXED[name]
    return name


def categories(policy: RetentionPolicy, paths: dict[str, str]) -> dict[str, str]:
    """Stored field name -> the id of the policy category its Graph field path belongs to."""
    return {name: _category(policy, path).id for name, path in paths.items()}


def classes(policy: RetentionPolicy, paths: dict[str, str]) -> dict[str, dict[str, object]]:
    """Category id -> the fields in it, purpose, legal basis and the policy's period and clock, for
    an entry: what the policy says, never a date computed from the person's appointment."""
    grouped: dict[str, dict[str, object]] = {}
    for name, path in sorted(paths.items()):
        category = _category(policy, path)
        entry = grouped.setdefault(category.id, {
            "fields": [], "purpose": category.purpose, "legal_basis": category.legal_basis,
            "period": category.retention, "clock": category.clock,
        })
        entry["fields"].append(name)  # type: ignore[union-attr]
    return grouped


def due_clocks(policy: RetentionPolicy, paths: dict[str, str], end: datetime | None, now: datetime) -> dict[str, Clock]:
    """Category id -> when its retention period starts and how long it is, for the mutable retention
    projection only; `end` is the end of the appointment the data came with (None for a customer record)."""
    found = {category.id: category for category in (_category(policy, path) for path in paths.values())}
    return {key: Clock(retention_start(category, end, now), category.retention, from_first=category.clock == "collected")
            for key, category in found.items()}


def _category(policy: RetentionPolicy, path: str) -> RetentionCategory:
    category = policy.for_field(path)
    assert category is not None, "check_policy ran at start"
    return category


def retention_start(category: RetentionCategory, end: datetime | None, now: datetime) -> datetime | None:
    """When the category's retention period starts for data of an appointment ending at `end`;
    None for a `cancellation` clock, which starts only when the appointment is cancelled."""
    if category.clock == "cancellation":
        return None
    if category.clock == "appointment_end" and end is not None:
        return end
    if category.clock == "last_contact" and end is not None:
        return max(end, now)  # the booking, or this change to it, is the latest contact
    return now


def cancellation_categories(policy: RetentionPolicy) -> list[str]:
    """The ids of the categories whose clock starts at a cancellation."""
    return [category.id for category in policy.category if category.clock == "cancellation"]


def digest_key(secret: bytes) -> bytes:
    """The key of content digests, derived from a secret so it is never that secret itself: from a
    subject's own key for a person's content (it dies with the subject), from the blind-index key
    only for an appointment without customers (whose fields describe no one)."""
    return hmac.new(secret, DIGEST_CONTEXT, hashlib.sha256).digest()


def content_digests(key: bytes, appointment: Appointment, person: Person) -> tuple[str, str | None]:
    """Keyed digests of a person's canonical content (a plain hash of personal data would be
    guessable): of the fields lists return, and of the notes only GET-by-id returns (None when
    absent, as in a calendarView item: a missing note is "not shown", not "removed")."""
    shown = {n: v for n, v in person.values.items() if n.rpartition(".")[2] not in LIST_OMITTED}
    notes = {n: v for n, v in person.values.items() if n not in shown}
    return _digest(key, appointment.id, person.key, shown), _digest(key, appointment.id, person.key, notes) if notes else None


def record_digest(key: bytes, person: Person) -> str:
    """Keyed digest of a customer record's canonical content (see `content_digests`)."""
    return _digest(key, "customer", person.key, person.values)


def _digest(key: bytes, owner_id: str, person_key: str, values: dict[str, str]) -> str:
    canonical = json.dumps([owner_id, person_key, sorted(values.items())], separators=(",", ":")).encode()
    return hmac.new(key, canonical, hashlib.sha256).hexdigest()


def graph_version(appointment: Appointment) -> str | None:
    """Graph's version stamp of an appointment (lastUpdatedDateTime): equal stamps, same content."""
    return format_time(appointment.last_updated) if appointment.last_updated else None
