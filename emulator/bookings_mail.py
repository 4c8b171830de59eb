"""The mail Bookings itself sends, kept in the outbox beside sendMail messages (privacy-facts §2.3).

``cancel`` mails the customers and the staff (bookingappointment-cancel). A 2024 report says a
plain DELETE sent the same cancellation mails (docs-contrib#9012), against the docs' distinction:
``quirk_delete_appointment_mails_customers`` (on, as reported). Whether ``optOutOfCustomerEmail``
spares the customers that mail is UNCONFIRMED: ``opt_out_suppresses_delete_mail`` (off).
Removing a whole business mails nobody.
"""

from __future__ import annotations

from .clock import Clock
from .mail import Outbox
from .options import Options
from .store import Business, BookingStore
from .timefmt import iso_utc


class BookingsMailer:
    """Listens to the store and records the cancellation mails Bookings would send."""

    def __init__(self, store: BookingStore, outbox: Outbox, options: Options, clock: Clock) -> None:
        self.outbox = outbox
        self.options = options
        self.clock = clock
        store.listeners.append(self._on_change)

    def _on_change(self, kind: str, business: Business, appointment_id: str) -> None:
        """Called inside the store lock while a leaving appointment can still be read."""
        if kind == "cancelling" or (kind == "deleting" and self.options.quirk_delete_appointment_mails_customers):
            self._cancellation(business, business.appointment(appointment_id), "cancel" if kind == "cancelling" else "delete")

    def _cancellation(self, business: Business, appointment: dict, trigger: str) -> None:
        opted_out = trigger == "delete" and appointment["optOutOfCustomerEmail"] and self.options.opt_out_suppresses_delete_mail
        customers = [] if opted_out else customer_addresses(appointment)
        staff_members = business.collections["staffMembers"].items
        staff = [staff_members[s]["emailAddress"] for s in appointment["staffMemberIds"]
                 if s in staff_members and staff_members[s].get("emailAddress")]
        if customers or staff:
            self.outbox.add({"kind": "cancellation", "source": "bookings", "trigger": trigger, "business": business.id,
                             "appointmentId": appointment["id"], "sentDateTime": iso_utc(self.clock.now()),
                             "recipients": list(dict.fromkeys(customers + staff)), "customerRecipients": customers,
                             "staffRecipients": staff})


def customer_addresses(appointment: dict) -> list[str]:
    """Every customer address on an appointment: customers[] and the legacy single-customer field."""
    found = [c["emailAddress"] for c in appointment["customers"] if c.get("emailAddress")]
    if appointment.get("customerEmailAddress"):
        found.append(appointment["customerEmailAddress"])
    return list(dict.fromkeys(found))
