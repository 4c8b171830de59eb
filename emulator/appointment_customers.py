"""``appointment.customers``: resolving it on create, replacing it on PATCH (privacy-facts §2.2).

Create (graph-facts §1.3): an element without ``customerId`` creates a bookingCustomer; name,
email and phone left out are filled from the customer; ``notes`` is kept only for a new one.
PATCH (learn: bookingappointment-update, Example 2): the array is a full replacement; each
element must say ``"@odata.type": "#microsoft.graph.bookingCustomerInformation"``; name, email
and phone are **not** filled from ``customerId`` (null when left out); the ``customerId`` must
exist; several customers need ``maximumAttendeesCount`` > 1. Switches in options.py decide the
points the docs leave open.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from . import entities
from .errors import bad_request
from .options import Options

if TYPE_CHECKING:
    from .store import Collection

ELEMENT_TYPE = "#microsoft.graph.bookingCustomerInformation"
UNKNOWN_ID_ANSWERS = ("reject", "drop", "register")


def check_patch_elements(raw: object, options: Options) -> None:
    """400 for a PATCH ``customers`` value Graph refuses; runs on the body before annotations are dropped."""
    if not isinstance(raw, list) or not all(isinstance(entry, dict) for entry in raw):
        raise bad_request("The property 'customers' must be a collection of bookingCustomerInformation.")
    for entry in raw:
        if entry.get("@odata.type") != ELEMENT_TYPE:
            # The collection is typed with the abstract base, which has none of these properties.
            raise bad_request("The property 'customerId' does not exist on type 'microsoft.graph.bookingCustomerInformationBase'. "
                              f"Each element of customers needs \"@odata.type\": \"{ELEMENT_TYPE}\".")
    if not raw and not options.accept_empty_customers:
        raise bad_request("An appointment needs at least one customer.")


class CustomerResolver:
    """Turns ``customers[]`` request elements into stored bookingCustomerInformation."""

    def __init__(self, options: Options, new_id: Callable[[], str], now: Callable[[], datetime]) -> None:
        self.options = options
        self.new_id = new_id
        self.now = now

    def on_create(self, customers: Collection, entries: list[dict]) -> list[dict]:
        """Elements of a created appointment; unknown ids register a customer (Graph's doc samples use foreign ids)."""
        resolved = []
        for entry in entries:
            customer = customers.items.get(entry.get("customerId") or "")
            is_new = customer is None
            if is_new:
                customer = self._register(customers, entry)
            resolved.append(entities.customer_information(entry, customer, notes=entry.get("notes") if is_new else None))
        return resolved

    def on_patch(self, customers: Collection, appointment: dict, entries: list[dict]) -> list[dict]:
        """The replacement array of a PATCH: each element as sent, notes from the customer's earlier element."""
        if len(entries) > 1 and (appointment["maximumAttendeesCount"] or 1) <= 1:
            raise bad_request("Several customers need a service whose maximumAttendeesCount is greater than 1.")
        unknown = [e["customerId"] for e in entries if e.get("customerId") and e["customerId"] not in customers.items]
        answer = self._unknown_answer(unknown)  # before any element registers a customer: a 400 changes nothing
        previous = {c["customerId"]: c for c in appointment["customers"]}
        resolved = []
        for entry in entries:
            customer_id = entry.get("customerId")
            customer = customers.items.get(customer_id) if customer_id else self._register(customers, entry)
            if customer is None:
                if answer == "drop":
                    continue
                customer = self._register(customers, entry)
            earlier = previous.get(customer["id"]) or {}
            if self.options.patch_keeps_custom_answers and "customQuestionAnswers" not in entry:
                entry = {**entry, "customQuestionAnswers": earlier.get("customQuestionAnswers") or []}
            notes = earlier.get("notes") if customer_id else entry.get("notes")
            resolved.append(entities.customer_information(entry, customer, notes=notes, fill=False))
        return resolved

    def _unknown_answer(self, unknown: list[str]) -> str:
        """What to do with unknown customer ids (drop or register); 400 when they are refused."""
        answer = self.options.patch_unknown_customer_id
        if answer not in UNKNOWN_ID_ANSWERS:
            raise bad_request(f"patch_unknown_customer_id must be one of {', '.join(UNKNOWN_ID_ANSWERS)}.")
        if unknown and answer == "reject":
            raise bad_request(f"The customer '{unknown[0]}' does not exist in this booking business.")
        return answer

    def _register(self, customers: Collection, entry: dict) -> dict:
        """A new bookingCustomer from an element, added to the business's customers."""
        phones = [{"number": entry["phone"], "type": "mobile"}] if entry.get("phone") else []
        body = {"displayName": entry.get("name"), "emailAddress": entry.get("emailAddress"), "phones": phones}
        customer = entities.build_entity("customers", body, entity_id=entry.get("customerId") or self.new_id(), now=self.now())
        customers.put(customer)
        return customer
