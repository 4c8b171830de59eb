"""JSON from Graph into the connector's dataclasses, defensively (graph-facts §7.9).

Both `start`/`end` and `startDateTime`/`endDateTime` are accepted; customer data comes from
`customers[]` first and the legacy flat fields second; a missing field is None, not an error.
Plain dict lookups only: this runs for every appointment of every sweep.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tzlocal.windows_tz import win_tz

from .models import Address, Appointment, Business, Customer, CustomerInfo, Event, MailMessage, Phone, QuestionAnswer

Json = Mapping[str, Any]
# Exchange marks the non-delivery reports it generates (privacy-facts §1.8: they land in the Inbox).
_NDR_HEADER = "x-ms-exchange-message-is-ndr"
_UTC_NAMES = frozenset({"", "UTC", "Etc/UTC", "Coordinated Universal Time", "tzone://Microsoft/Utc"})


def parse_datetime(value: str | None) -> datetime | None:
    """An ISO 8601 timestamp (Graph's 7-digit fractions too); UTC when no offset is given."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def iana_zone(name: str | None) -> str | None:
    """The IANA name of a Graph time zone, given as IANA ("Europe/Berlin") or, as mailboxSettings
    and Outlook usually give it, as a Windows name ("W. Europe Standard Time", mapped by CLDR's
    table that tzlocal ships); None for a name neither knows."""
    zone = (name or "").strip()
    if zone in _UTC_NAMES:
        return "UTC"
    zone = win_tz.get(zone, zone)
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return zone


def parse_date_time_zone(value: Json | None) -> datetime | None:
    """A dateTimeTimeZone ({dateTime, timeZone}) as an aware datetime.

    Graph returns UTC here; an IANA zone is applied; a Windows zone name we cannot resolve
    leaves the datetime naive rather than guessing an offset.
    """
    if not value or not value.get("dateTime"):
        return None
    parsed = datetime.fromisoformat(value["dateTime"])
    if parsed.tzinfo:
        return parsed
    zone = value.get("timeZone") or ""
    if zone in _UTC_NAMES:
        return parsed.replace(tzinfo=timezone.utc)
    try:
        return parsed.replace(tzinfo=ZoneInfo(zone))
    except (ZoneInfoNotFoundError, ValueError):
        return parsed


def parse_customer_info(data: Json) -> CustomerInfo:
    """One element of `customers[]`."""
    return CustomerInfo(
        customer_id=data.get("customerId"), name=data.get("name"), email=data.get("emailAddress"),
        phone=data.get("phone"), notes=data.get("notes"), time_zone=data.get("timeZone"),
        answers=tuple(
            QuestionAnswer(
                question_id=a.get("questionId"), question=a.get("question"), answer=a.get("answer"),
                selected_options=tuple(a.get("selectedOptions") or ()),
            )
            for a in data.get("customQuestionAnswers") or ()
        ),
    )


def _legacy_customer(data: Json) -> CustomerInfo | None:
    name, email, phone = data.get("customerName"), data.get("customerEmailAddress"), data.get("customerPhone")
    if not (name or email or phone):
        return None
    return CustomerInfo(
        customer_id=data.get("customerId"), name=name, email=email, phone=phone,
        notes=data.get("customerNotes"), time_zone=data.get("customerTimeZone"),
    )


def parse_appointment(data: Json, business_id: str) -> Appointment:
    """A bookingAppointment from list, calendarView or GET-by-id JSON."""
    legacy = _legacy_customer(data)
    customers = tuple(parse_customer_info(c) for c in data.get("customers") or ())
    return Appointment(
        id=data["id"], business_id=business_id,
        start=parse_date_time_zone(data.get("startDateTime") or data.get("start")),
        end=parse_date_time_zone(data.get("endDateTime") or data.get("end")),
        service_id=data.get("serviceId"), service_name=data.get("serviceName"),
        staff_member_ids=tuple(data.get("staffMemberIds") or ()),
        created=parse_datetime(data.get("createdDateTime")),
        last_updated=parse_datetime(data.get("lastUpdatedDateTime")),
        duration=data.get("duration"), self_service_appointment_id=data.get("selfServiceAppointmentId"),
        is_location_online=data.get("isLocationOnline"),
        filled_attendees_count=data.get("filledAttendeesCount"),
        maximum_attendees_count=data.get("maximumAttendeesCount"),
        opt_out_of_customer_email=data.get("optOutOfCustomerEmail"),
        customers=customers or ((legacy,) if legacy else ()), legacy_customer=legacy,
        service_notes=data.get("serviceNotes"), customer_notes=data.get("customerNotes"),
    )


def parse_customer(data: Json, business_id: str) -> Customer:
    """A bookingCustomer."""
    return Customer(
        id=data["id"], business_id=business_id, display_name=data.get("displayName"),
        email=data.get("emailAddress"),
        phones=tuple(Phone(kind=p.get("type"), number=p.get("number")) for p in data.get("phones") or ()),
        addresses=tuple(
            Address(street=a.get("street"), city=a.get("city"), state=a.get("state"),
                    postal_code=a.get("postalCode"), country=a.get("countryOrRegion"))
            for a in data.get("addresses") or ()
        ),
        created=parse_datetime(data.get("createdDateTime")),
        last_updated=parse_datetime(data.get("lastUpdatedDateTime")),
    )


def parse_business(data: Json) -> Business:
    """A bookingBusiness."""
    return Business(
        id=data["id"], display_name=data.get("displayName"), email=data.get("email"),
        business_type=data.get("businessType"), is_published=data.get("isPublished"),
        default_currency=data.get("defaultCurrencyIso"), language_tag=data.get("languageTag"),
    )


def parse_event(data: Json) -> Event:
    """A calendar event, or a delta `@removed` entry."""
    removed = data.get("@removed")
    return Event(
        id=data["id"], start=parse_date_time_zone(data.get("start")), end=parse_date_time_zone(data.get("end")),
        is_cancelled=data.get("isCancelled"), created=parse_datetime(data.get("createdDateTime")),
        last_modified=parse_datetime(data.get("lastModifiedDateTime")), i_cal_uid=data.get("iCalUId"),
        change_key=data.get("changeKey"), removed=(removed.get("reason") or "deleted") if removed else None,
    )


def _address(value: Json | None) -> str | None:
    return ((value or {}).get("emailAddress") or {}).get("address") or None


def parse_message(data: Json) -> MailMessage:
    """A message; the sender is `from` (who wrote it), else `sender` (who sent it for them)."""
    headers = tuple((str(h.get("name", "")), str(h.get("value", ""))) for h in data.get("internetMessageHeaders") or ())
    names = {name.lower(): value for name, value in headers}
    body = data.get("body") or {}
    content_type = names.get("content-type", "").lower()
    return MailMessage(
        id=data["id"], received_at=parse_datetime(data.get("receivedDateTime")),
        sender=_address(data.get("from")) or _address(data.get("sender")), subject=data.get("subject"),
        text=body.get("content") if body else data.get("bodyPreview"), headers=headers,
        is_ndr=_NDR_HEADER in names or content_type.startswith("multipart/report"),
    )
