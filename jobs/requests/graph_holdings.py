"""What Graph holds of a request's subjects, read live: each business's customer records and appointments.

The Bookings mirror says which Graph objects are the subjects' (every business); each is read by
id, 20 to a `$batch`, so an export shows what Graph holds now, not what the ledger last saw. An
appointment may be shared: only the subjects' own `customers[]` elements are kept, and the fields
that describe the customer rather than the booking (the legacy customer fields, notes, join links)
only when every customer on it is one of the subjects. Another person's data never leaves.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from connector import GraphConnector, NotFound
from connector.models import ItemResult
from state import bookings_mirror

# What an appointment says of the booking itself, whoever is on it.
BOOKING_FIELDS = (
    "id", "startDateTime", "endDateTime", "duration", "serviceId", "serviceName", "serviceLocation", "price",
    "priceType", "staffMemberIds", "isLocationOnline", "createdDateTime", "lastUpdatedDateTime",
    "optOutOfCustomerEmail", "smsNotificationsEnabled", "maximumAttendeesCount", "filledAttendeesCount",
    "appointmentLabel", "selfServiceAppointmentId", "isCustomerAllowedToManageBooking", "preBuffer", "postBuffer",
)
# What describes its customer: kept only when every customer on the appointment is a subject.
CUSTOMER_FIELDS = (
    "customerName", "customerEmailAddress", "customerPhone", "customerNotes", "customerTimeZone", "serviceNotes",
    "additionalInformation", "joinWebUrl", "anonymousJoinWebUrl", "reminders",
)
CUSTOMER_RECORD_FIELDS = ("id", "displayName", "emailAddress", "phones", "addresses", "createdDateTime",
                          "lastUpdatedDateTime")


@dataclass
class BusinessHoldings:
    """One business's records of the subjects, as Graph returned them (filtered), and what was gone."""

    business_id: str
    customers: list[dict[str, Any]] = field(default_factory=list)
    appointments: list[dict[str, Any]] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)          # ids the mirror knew that Graph no longer has


def read_holdings(session: Session, connector: GraphConnector, subjects: Iterable[str]) -> list[BusinessHoldings]:
    """Every business's customer records and appointments of the subjects, read from Graph now."""
    wanted = set(subjects)
    customers: dict[str, dict[str, str]] = defaultdict(dict)      # business -> customer id -> subject
    appointments: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)   # business -> id -> {key: subject}
    for subject in sorted(wanted):
        records = bookings_mirror.subject_records(session, subject)
        for business, customer_id in records.customers:
            customers[business][customer_id] = subject
        for appointment_id, business in records.appointments.items():
            snapshot = bookings_mirror.appointment(session, appointment_id)
            appointments[business][appointment_id] = snapshot.subjects if snapshot else {}
    holdings = []
    for business in sorted(set(customers) | set(appointments)):
        found = BusinessHoldings(business)
        for document in _documents(connector.bookings.customer_documents(business, sorted(customers[business])), found):
            found.customers.append({name: document.get(name) for name in CUSTOMER_RECORD_FIELDS})
        keys = appointments[business]
        for document in _documents(connector.bookings.appointment_documents(business, sorted(keys)), found):
            found.appointments.append(own_part(document, keys[document["id"]], wanted))
        holdings.append(found)
    return holdings


def own_part(document: dict[str, Any], subject_of_key: dict[str, str], subjects: set[str]) -> dict[str, Any]:
    """The part of an appointment that is the subjects': the booking, their customers[] entries, and
    the customer fields when nobody else is on it."""
    part = {name: document.get(name) for name in BOOKING_FIELDS}
    people = document.get("customers") or []
    mine = [person for index, person in enumerate(people)
            if subject_of_key.get(person.get("customerId") or f"#{index}") in subjects]
    part["customers"] = [{key: value for key, value in person.items() if not key.startswith("@odata.")} for person in mine]
    if len(mine) == len(people):
        part.update({name: document.get(name) for name in CUSTOMER_FIELDS})
    return part


def _documents(results: Iterator[ItemResult[dict[str, Any]]], found: BusinessHoldings) -> Iterator[dict[str, Any]]:
    """The documents read; a 404 is noted as gone, any other failure stops the export (the run is retried)."""
    for result in results:
        if isinstance(result.error, NotFound):
            found.gone.append(result.id)
        elif result.error is not None:
            raise result.error
        elif result.value is not None:
            yield result.value

