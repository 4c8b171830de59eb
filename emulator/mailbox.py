"""The business mailbox calendar: every appointment projected as an Outlook event.

Graph facts §2.1: each Bookings appointment also lives as an event in the scheduling mailbox;
read from there, subject and body carry no customer data and attendees list only staff. Events
are computed from the appointments on read; only the id mapping and a change log are stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timezone

from .errors import GraphError
from .options import Options
from .store import Business, BookingStore
from .timefmt import date_time_time_zone

EventListener = Callable[[str, Business, str, str], None]  # (changeType, business, event id, change key)


class Mailboxes:
    """Event ids, change keys and change logs of every business mailbox."""

    def __init__(self, store: BookingStore, options: Options) -> None:
        self.store = store
        self.options = options
        self.appointment_of: dict[str, str] = {}  # event id -> appointment id
        self.logs: dict[str, list[str]] = {}      # business key -> event ids in change order
        self.listeners: list[EventListener] = []
        self.delta_generation = 0  # delta tokens of an older generation are expired
        store.listeners.append(self._on_appointment_change)

    def business_for_user(self, user: str) -> Business:
        """The business whose mailbox is ``user`` (SMTP address or user object id)."""
        key = user.lower()
        with self.store.lock:
            for business in self.store.businesses.values():
                if key in (business.id.lower(), business.mailbox_user_id):
                    return business
        raise GraphError(404, "ErrorInvalidUser", f"The requested user '{user}' is invalid.")

    def mailbox_key(self, user: str) -> str:
        """The business id (lower case) of a mailbox named by address or user id; the name itself otherwise."""
        key = user.lower()
        with self.store.lock:
            for business in self.store.businesses.values():
                if key == business.mailbox_user_id:
                    return business.id.lower()
        return key

    def expire_delta_tokens(self) -> None:
        """Expire all delta tokens issued so far, as Outlook does when its token cache drops them."""
        self.delta_generation += 1

    def event_id(self, appointment_id: str) -> str:
        """The event id of an appointment's calendar copy (see Options.event_id_equals_appointment_id)."""
        if self.options.event_id_equals_appointment_id:
            event_id = appointment_id
        else:
            digest = hashlib.sha256(b"event:" + appointment_id.encode()).digest()
            event_id = "AAMkAGI" + digest.hex()[:48] + "AAA="
        self.appointment_of[event_id] = appointment_id
        return event_id

    def change_key(self, appointment: dict) -> str:
        """An event change key; it changes whenever the appointment does."""
        return hashlib.sha256((appointment["id"] + appointment["lastUpdatedDateTime"]).encode()).hexdigest()[:24]

    def log(self, business: Business) -> list[str]:
        """The mailbox's change log (event ids, oldest first); positions are delta sequence numbers."""
        return self.logs.setdefault(business.id.lower(), [])

    def event(self, business: Business, event_id: str) -> dict | None:
        """The event with this id, or None when its appointment is gone."""
        appointment = business.appointment(self.appointment_of.get(event_id, ""))
        return self.render(business, appointment) if appointment else None

    def render(self, business: Business, appointment: dict) -> dict:
        """The event as Outlook returns it, with customer data stripped (§2.1)."""
        event_id = self.event_id(appointment["id"])
        change_key = self.change_key(appointment)
        start, end = (datetime.fromtimestamp(t, timezone.utc) for t in business.times[appointment["id"]])
        staff = business.collections["staffMembers"].items
        attendees = [{"type": "required", "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
                      "emailAddress": {"name": staff[s].get("displayName"), "address": staff[s].get("emailAddress")}}
                     for s in appointment["staffMemberIds"] if s in staff]
        return {
            "@odata.etag": f'W/"{change_key}"', "id": event_id, "createdDateTime": appointment["createdDateTime"],
            "lastModifiedDateTime": appointment["lastUpdatedDateTime"], "changeKey": change_key, "categories": [],
            "transactionId": None, "originalStartTimeZone": "UTC", "originalEndTimeZone": "UTC",
            "iCalUId": "040000008200E00074C5B7101A82E008" + event_id[-32:].encode().hex()[:32],
            "reminderMinutesBeforeStart": 15, "isReminderOn": False, "hasAttachments": False,
            "subject": appointment["serviceName"] or "Booking", "bodyPreview": "", "importance": "normal",
            "sensitivity": "normal", "isAllDay": False, "isCancelled": False, "isOrganizer": True,
            "responseRequested": True, "seriesMasterId": None, "showAs": "busy", "type": "singleInstance",
            "webLink": f"https://outlook.office365.com/owa/?itemid={event_id}&exvsurl=1&path=/calendar/item",
            "onlineMeetingUrl": None, "isOnlineMeeting": bool(appointment["isLocationOnline"]),
            "onlineMeetingProvider": "teamsForBusiness" if appointment["isLocationOnline"] else "unknown",
            "allowNewTimeProposals": False, "isDraft": False, "hideAttendees": False,
            "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
            "body": {"contentType": "html", "content": ""},
            "start": date_time_time_zone(start, suffix=""), "end": date_time_time_zone(end, suffix=""),
            "location": {"displayName": (appointment["serviceLocation"] or {}).get("displayName") or "",
                         "locationType": "default", "uniqueIdType": "unknown", "address": {}, "coordinates": {}},
            "locations": [], "recurrence": None, "attendees": attendees,
            "organizer": {"emailAddress": {"name": business.data["displayName"], "address": business.id}},
            "onlineMeeting": {"joinUrl": appointment["joinWebUrl"]} if appointment["isLocationOnline"] else None,
        }

    def _on_appointment_change(self, kind: str, business: Business, appointment_id: str) -> None:
        """Keep the calendar copy in step and tell subscribers (called inside the store lock)."""
        event_id = self.event_id(appointment_id)
        appointment = business.appointment(appointment_id)
        change_key = self.change_key(appointment) if appointment else ""
        self.log(business).append(event_id)
        for listener in self.listeners:
            listener(kind, business, event_id, change_key)
