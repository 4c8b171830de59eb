"""Bookings entities in Graph's shape: building them from request bodies, rendering them back.

Field lists follow the v1.0 model (graph-facts §1.2–1.4). Request bodies may carry OData
annotations (``@odata.type``, ``x@odata.type``); they are accepted and dropped, as Graph does.
"""

from __future__ import annotations

from datetime import datetime

from .errors import GraphError, bad_request
from .timefmt import date_time_time_zone, format_duration, iso_utc, parse_date_time_time_zone

ZERO_GUID = "00000000-0000-0000-0000-000000000000"
LEGACY_CUSTOMER_FIELDS = ("customerName", "customerEmailAddress", "customerPhone", "customerNotes")
# Legacy fields that mirror the single customer (§1.2): legacy name -> customers[] element field.
LEGACY_MIRRORED = {"customerName": "name", "customerEmailAddress": "emailAddress", "customerPhone": "phone"}
ODATA_TYPES = {
    "services": "#microsoft.graph.bookingService",
    "staffMembers": "#microsoft.graph.bookingStaffMember",
    "customers": "#microsoft.graph.bookingCustomer",
    "customQuestions": "#microsoft.graph.bookingCustomQuestion",
    "appointments": "#microsoft.graph.bookingAppointment",
}
# Defaults a created entity gets for fields the request left out.
ENTITY_DEFAULTS: dict[str, dict] = {
    "services": {"displayName": None, "defaultDuration": "PT30M", "defaultPrice": 0.0, "defaultPriceType": "free",
                 "maximumAttendeesCount": 1, "staffMemberIds": [], "isHiddenFromCustomers": False, "notes": None},
    "staffMembers": {"displayName": None, "emailAddress": None, "role": "externalGuest", "timeZone": None,
                     "useBusinessHours": True, "availabilityIsAffectedByPersonalCalendar": False},
    "customers": {"displayName": None, "emailAddress": None, "addresses": [], "phones": []},
    "customQuestions": {"displayName": None, "answerInputType": "text", "answerOptions": []},
}
APPOINTMENT_DEFAULTS: dict = {
    "selfServiceAppointmentId": ZERO_GUID, "additionalInformation": None, "anonymousJoinWebUrl": None,
    "appointmentLabel": None, "customerEmailAddress": None, "customerName": None, "customerPhone": None,
    "customerNotes": None, "customerTimeZone": None, "isCustomerAllowedToManageBooking": False,
    "isLocationOnline": False, "joinWebUrl": None, "optOutOfCustomerEmail": False, "preBuffer": "PT0S",
    "postBuffer": "PT0S", "price": 0.0, "priceType": "notSet", "reminders": [], "serviceId": None,
    "serviceName": None, "serviceLocation": None, "serviceNotes": None, "smsNotificationsEnabled": False,
    "staffMemberIds": [], "maximumAttendeesCount": 1, "filledAttendeesCount": 0, "customers": [],
}
# Fields a client never sets: computed or read-only.
_COMPUTED = {"id", "createdDateTime", "lastUpdatedDateTime", "duration", "filledAttendeesCount", "start", "end"}


def strip_annotations(value: object) -> object:
    """Drop OData annotations from a request body, recursively."""
    # Leaves are not passed to a call: request bodies of a large seed are mostly leaves.
    if isinstance(value, dict):
        return {k: strip_annotations(v) if isinstance(v, (dict, list)) else v for k, v in value.items() if "@odata." not in k}
    if isinstance(value, list):
        return [strip_annotations(v) if isinstance(v, (dict, list)) else v for v in value]
    return value


def location(value: dict | None) -> dict:
    """A location in the full shape Graph returns (missing parts present and null)."""
    if not value:
        return EMPTY_LOCATION  # shared: stored values are replaced on PATCH, never changed in place
    address = value.get("address") or {}
    return {
        "displayName": value.get("displayName"), "locationEmailAddress": value.get("locationEmailAddress"),
        "locationUri": value.get("locationUri") or "", "locationType": value.get("locationType"),
        "uniqueId": value.get("uniqueId"), "uniqueIdType": value.get("uniqueIdType"),
        "address": {k: address.get(k) or "" for k in ("street", "city", "state", "countryOrRegion", "postalCode")},
        "coordinates": {k: (value.get("coordinates") or {}).get(k) for k in
                        ("altitude", "latitude", "longitude", "accuracy", "altitudeAccuracy")},
    }


EMPTY_LOCATION = location({"displayName": None})


def build_entity(kind: str, body: dict, *, entity_id: str, now: datetime) -> dict:
    """A new service, staff member, customer or custom question from a POST body."""
    entity = {"id": entity_id, **ENTITY_DEFAULTS[kind], **_writable(strip_annotations(body))}
    entity["createdDateTime"] = entity["lastUpdatedDateTime"] = iso_utc(now)
    return entity


def patch_entity(entity: dict, body: dict, *, now: datetime) -> None:
    """Apply a PATCH body to a stored entity."""
    entity.update(_writable(strip_annotations(body)))
    entity["lastUpdatedDateTime"] = iso_utc(now)


def customer_information(entry: dict, customer: dict, *, notes: str | None, fill: bool = True) -> dict:
    """One element of ``appointment.customers`` (bookingCustomerInformation).

    ``fill`` takes name, email and phone left out from the customer, as on create; a PATCH does
    not (bookingappointment-update, Example 2), so what was sent is what is stored."""
    known = customer if fill else {}
    return {
        "@odata.type": "#microsoft.graph.bookingCustomerInformation",
        "customerId": customer["id"],
        "name": entry.get("name") or known.get("displayName"),
        "emailAddress": entry.get("emailAddress") or known.get("emailAddress"),
        "phone": entry.get("phone") or _first_phone(known),
        "notes": notes,
        "location": location(entry.get("location")),
        "timeZone": entry.get("timeZone"),
        "customQuestionAnswers": entry.get("customQuestionAnswers") or [],
        "smsNotificationsEnabled": bool(entry.get("smsNotificationsEnabled", False)),
    }


def appointment_times(body: dict, current: tuple[datetime, datetime] | None) -> tuple[datetime, datetime]:
    """Start and end from a body (either spelling, §1.2 CONFLICT), defaulting to the current ones."""
    start_value = body.get("startDateTime", body.get("start"))
    end_value = body.get("endDateTime", body.get("end"))
    if current is None and (start_value is None or end_value is None):
        raise bad_request("The appointment needs startDateTime and endDateTime.")
    start = parse_date_time_time_zone(start_value, "startDateTime") if start_value is not None else current[0]
    end = parse_date_time_time_zone(end_value, "endDateTime") if end_value is not None else current[1]
    if end < start:
        raise bad_request("The end time of the appointment must be after its start time.")
    return start, end


def set_appointment_times(appointment: dict, start: datetime, end: datetime) -> None:
    """Store start/end in UTC (as GET returns them) and the derived duration."""
    appointment["startDateTime"] = date_time_time_zone(start)
    appointment["endDateTime"] = date_time_time_zone(end)
    appointment["duration"] = format_duration(end - start)


def appointment_fields(body: dict, *, creating: bool, legacy_ignored: bool) -> dict:
    """The fields of a POST or PATCH body that land on the stored appointment."""
    fields = {k: v for k, v in _writable(body).items()
              if k in APPOINTMENT_DEFAULTS and k not in ("customers", "startDateTime", "endDateTime")}
    if not creating:
        fields.pop("selfServiceAppointmentId", None)
        # bookingappointment-update lists neither the legacy customer fields nor customerNotes.
        for name in LEGACY_CUSTOMER_FIELDS if legacy_ignored else ("customerNotes",):
            fields.pop(name, None)
    if "serviceLocation" in fields:
        fields["serviceLocation"] = location(fields["serviceLocation"])
    return fields


def render_appointment(appointment: dict, *, single: bool, empty_customers: bool, aliases: bool) -> dict:
    """An appointment as Graph returns it from GET-by-id (single) or from a list/calendarView."""
    out = dict(appointment)
    if not single:
        # customerNotes, serviceNotes and reminders are returned only by GET of one appointment (§1.2).
        out["customerNotes"] = out["serviceNotes"] = None
        out["reminders"] = []
        out["customers"] = [] if empty_customers else [{**c, "notes": None} for c in out["customers"]]
    if aliases:
        out["start"], out["end"] = out["startDateTime"], out["endDateTime"]
    return out


def _writable(body: dict) -> dict:
    return {k: v for k, v in body.items() if k not in _COMPUTED}


def _first_phone(customer: dict) -> str | None:
    phones = customer.get("phones") or []
    return phones[0].get("number") if phones else None


# bookingBusiness properties of the v1.0 model (graph-facts §1.1); Graph refuses any other.
BUSINESS_PROPERTIES = frozenset({
    "address", "bookingPageSettings", "businessHours", "businessType", "createdDateTime", "defaultCurrencyIso",
    "displayName", "email", "id", "isPublished", "languageTag", "lastUpdatedDateTime", "phone", "publicUrl",
    "schedulingPolicy", "webSiteUrl",
})


def mailbox_settings_defaults() -> dict:
    """mailboxSettings of a new mailbox as Graph shows them (user-get-mailboxsettings); Windows zone names."""
    return {
        "archiveFolder": None, "timeZone": "UTC",
        "automaticRepliesSetting": {"status": "disabled", "externalAudience": "all", "internalReplyMessage": "",
                                    "externalReplyMessage": "",
                                    "scheduledStartDateTime": {"dateTime": "0001-01-01T00:00:00.0000000", "timeZone": "UTC"},
                                    "scheduledEndDateTime": {"dateTime": "0001-01-01T00:00:00.0000000", "timeZone": "UTC"}},
        "language": {"locale": "en-US", "displayName": "English (United States)"},
        "workingHours": {"daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
                         "startTime": "08:00:00.0000000", "endTime": "17:00:00.0000000", "timeZone": {"name": "UTC"}},
        "userPurpose": "shared", "dateFormat": "M/d/yyyy", "timeFormat": "h:mm tt",
        "delegateMeetingMessageDeliveryOptions": "sendToDelegateOnly",
    }


def check_business_properties(body: dict) -> None:
    """Graph's 400 for a property bookingBusiness does not have (timeZone among them)."""
    for name in body:
        if name not in BUSINESS_PROPERTIES:
            raise GraphError(400, "BadRequest", f"The property '{name}' does not exist on type "
                             "'microsoft.graph.bookingBusiness'. Make sure to only use property names that are "
                             "defined by the type or mark the type as open type.")
