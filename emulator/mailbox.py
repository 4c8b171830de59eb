"""The business mailbox calendar: every appointment projected as an Outlook event.

Graph facts §2.1: each Bookings appointment also lives as an event in the scheduling mailbox;
its subject is the service name and its attendees only staff. Its body is empty, or carries the
customers' custom-question answers (``event_body_has_custom_answers``, privacy-facts §2.5).
Events are computed from the appointments on read, so when Bookings rewrites an appointment
its copy follows (an inference). Stored are only the id mapping, a change log, the fields an
event PATCH changed (kept until the appointment changes again), the copies deleted through
``/events`` and the Recoverable Items.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timezone

from .errors import GraphError, not_found
from .event_copy import apply_patch, event_body
from .options import Options
from .records import thaw
from .recoverable import DELETIONS, PURGES, RecoverableItems
from .store import Business, BookingStore
from .timefmt import date_time_time_zone, iso_utc

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
        self.patches: dict[str, tuple[str, dict, str]] = {}  # appointment id -> (its lastUpdated, fields, when)
        self.deleted_copies: set[str] = set()  # appointments whose event was deleted through /events
        self.recoverable = RecoverableItems(options, store.clock)
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
        """An event change key; it changes whenever the appointment or the event's own PATCH does."""
        return self._change_key(appointment, self._patch(appointment))

    @staticmethod
    def _change_key(appointment: dict, patch: tuple | None) -> str:
        stamp = appointment["lastUpdatedDateTime"] + (patch[2] if patch else "")
        return hashlib.sha256((appointment["id"] + stamp).encode()).hexdigest()[:24]

    def visible(self, appointment_id: str) -> bool:
        """Whether the appointment's calendar copy is still in the calendar."""
        return appointment_id not in self.deleted_copies

    def log(self, business: Business) -> list[str]:
        """The mailbox's change log (event ids, oldest first); positions are delta sequence numbers."""
        return self.logs.setdefault(business.id.lower(), [])

    def event(self, business: Business, event_id: str) -> dict | None:
        """The event with this id, or None when its appointment is gone."""
        appointment_id = self.appointment_of.get(event_id, "")
        appointment = business.appointment(appointment_id)
        return self.render(business, appointment) if appointment and self.visible(appointment_id) else None

    def render(self, business: Business, appointment: dict) -> dict:
        """The event as Outlook returns it: customer data stripped (§2.1) but for the body's answers."""
        return self._render(business, appointment, business.times[appointment["id"]], self._patch(appointment),
                            self.options.event_body_has_custom_answers)

    def _render(self, business: Business, appointment: dict, times: tuple[float, float], patch: tuple | None,
                with_answers: bool) -> dict:
        event_id = self.event_id(appointment["id"])
        change_key = self._change_key(appointment, patch)
        start, end = (datetime.fromtimestamp(t, timezone.utc) for t in times)
        staff = business.collections["staffMembers"].items
        attendees = [{"type": "required", "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
                      "emailAddress": {"name": staff[s].get("displayName"), "address": staff[s].get("emailAddress")}}
                     for s in appointment["staffMemberIds"] if s in staff]
        body, preview = event_body(appointment, with_answers)
        event = {
            "@odata.etag": f'W/"{change_key}"', "id": event_id, "createdDateTime": appointment["createdDateTime"],
            "lastModifiedDateTime": appointment["lastUpdatedDateTime"], "changeKey": change_key, "categories": [],
            "transactionId": None, "originalStartTimeZone": "UTC", "originalEndTimeZone": "UTC",
            "iCalUId": "040000008200E00074C5B7101A82E008" + event_id[-32:].encode().hex()[:32],
            "reminderMinutesBeforeStart": 15, "isReminderOn": False, "hasAttachments": False,
            "subject": appointment["serviceName"] or "Booking", "bodyPreview": preview, "importance": "normal",
            "sensitivity": "normal", "isAllDay": False, "isCancelled": False, "isOrganizer": True,
            "responseRequested": True, "seriesMasterId": None, "showAs": "busy", "type": "singleInstance",
            "webLink": f"https://outlook.office365.com/owa/?itemid={event_id}&exvsurl=1&path=/calendar/item",
            "onlineMeetingUrl": None, "isOnlineMeeting": bool(appointment["isLocationOnline"]),
            "onlineMeetingProvider": "teamsForBusiness" if appointment["isLocationOnline"] else "unknown",
            "allowNewTimeProposals": False, "isDraft": False, "hideAttendees": False,
            "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
            "body": body,
            "start": date_time_time_zone(start, suffix=""), "end": date_time_time_zone(end, suffix=""),
            "location": {"displayName": (appointment["serviceLocation"] or {}).get("displayName") or "",
                         "locationType": "default", "uniqueIdType": "unknown", "address": {}, "coordinates": {}},
            "locations": [], "recurrence": None, "attendees": attendees,
            "organizer": {"emailAddress": {"name": business.data["displayName"], "address": business.id}},
            "onlineMeeting": {"joinUrl": appointment["joinWebUrl"]} if appointment["isLocationOnline"] else None,
        }
        return apply_patch(event, patch[1], patch[2]) if patch else event

    def patch_event(self, business: Business, event_id: str, fields: dict) -> dict:
        """PATCH the calendar copy: its fields stay as patched until the appointment changes again."""
        appointment = self._live(business, event_id)
        earlier = self._patch(appointment)
        merged = {**(earlier[1] if earlier else {}), **fields}
        self.patches[appointment["id"]] = (appointment["lastUpdatedDateTime"], merged, iso_utc(self.store.clock.now()))
        self._changed("updated", business, event_id, self.change_key(appointment))
        return self.render(business, appointment)

    def delete_event(self, business: Business, event_id: str, *, permanent: bool) -> dict | None:
        """Delete the calendar copy (Recoverable Items: Deletions, or Purges when permanent).

        Answers the event removed from the calendar, or None when ``permanent`` purged an already
        deleted one; 404 when the mailbox holds neither."""
        mailbox = business.id.lower()
        appointment = business.appointment(self.appointment_of.get(event_id, ""))
        if appointment is None or not self.visible(appointment["id"]):
            if permanent and self.recoverable.purge(mailbox, event_id):
                return None
            raise not_found()
        event = self.render(business, appointment)
        self.recoverable.keep(mailbox, "event", event_id, event, PURGES if permanent else DELETIONS)
        self.deleted_copies.add(appointment["id"])
        self._changed("deleted", business, event_id, "")
        if self.options.event_delete_removes_appointment:
            self.store.delete_appointment(business.id, appointment["id"], reason="eventDeleted")
        return event

    def _live(self, business: Business, event_id: str) -> dict:
        appointment = business.appointment(self.appointment_of.get(event_id, ""))
        if appointment is None or not self.visible(appointment["id"]):
            raise not_found()
        return appointment

    def _patch(self, appointment: dict) -> tuple[str, dict, str] | None:
        """The event's own PATCH, if the appointment has not changed since (then Bookings' copy wins)."""
        patch = self.patches.get(appointment["id"])
        return patch if patch and patch[0] == appointment["lastUpdatedDateTime"] else None

    def _keep_recoverable(self, business: Business, appointment_id: str) -> None:
        """A leaving appointment and its calendar copy stay in Recoverable Items (an inference).

        Kept as the compact record, rendered when listed as it looked now (its PATCH, the body switch)."""
        record, times = business.appointments[appointment_id], business.times[appointment_id]
        mailbox = business.id.lower()
        self.recoverable.keep(mailbox, "appointment", appointment_id, lambda: thaw(record, *times))
        if self.visible(appointment_id):
            patch, with_answers = self._patch(business.appointment(appointment_id)), self.options.event_body_has_custom_answers
            self.recoverable.keep(mailbox, "event", self.event_id(appointment_id),
                                  lambda: self._render(business, thaw(record, *times), times, patch, with_answers))

    def _on_appointment_change(self, kind: str, business: Business, appointment_id: str) -> None:
        """Keep the calendar copy in step and tell subscribers (called inside the store lock)."""
        if kind in ("cancelling", "deleting", "eventDeleted"):
            self._keep_recoverable(business, appointment_id)
            return
        if kind == "purging":  # the whole business goes, and its mailbox with it
            return
        event_id = self.event_id(appointment_id)
        appointment = business.appointment(appointment_id)
        if appointment is None:
            self.patches.pop(appointment_id, None)
            if appointment_id in self.deleted_copies:
                self.deleted_copies.discard(appointment_id)
                return  # its copy left the calendar already, and subscribers were told then
        elif not self.visible(appointment_id):
            return  # a deleted copy stays deleted (Bookings recreating it is UNCONFIRMED)
        self._changed(kind, business, event_id, self.change_key(appointment) if appointment else "")

    def _changed(self, kind: str, business: Business, event_id: str, change_key: str) -> None:
        self.log(business).append(event_id)
        for listener in self.listeners:
            listener(kind, business, event_id, change_key)
