"""The appointment's strategy, and the PATCH bodies it sends: pure functions on Graph's JSON.

    rewrite  the business must keep the appointment: PATCH `customers[]` as a full replacement
             (privacy-facts §2.2): every other customer sent back whole, with every field as read
             and its `@odata.type`; this person's element with the expired categories' fields
             blanked, or left out when all its categories expired; appointment-level free text
             (`serviceNotes`, `additionalInformation`) of an expired category blanked too
    delete   nothing needs the appointment: first a *strip* (every customer removed, or blanked
             where an empty array is refused, and `optOutOfCustomerEmail` set), then the DELETE,
             which then has no customer to mail (a plain DELETE may mail every customer, §2.3)

Whether an empty `customers[]` is accepted is UNCONFIRMED (§2.2): a refused one is sent again with
blanked elements (`allow_empty=False`), the refusal being proof that nothing was written.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from config.retention import RetentionPolicy

ELEMENT_TYPE = "#microsoft.graph.bookingCustomerInformation"
APPOINTMENT_TYPE = "#microsoft.graph.bookingAppointment"
# The element's members a person's data lives in, and what a blanked one carries instead.
ELEMENT_FIELDS = {"name": None, "emailAddress": None, "phone": None, "notes": None, "location": None, "timeZone": None,
                  "customQuestionAnswers": []}
APPOINTMENT_FREE_TEXT = ("serviceNotes", "additionalInformation")


def element_categories(policy: RetentionPolicy) -> dict[str, str]:
    """Element member -> the policy category of `customers[].<member>`."""
    found = {}
    for member in ELEMENT_FIELDS:
        category = policy.for_field(f"customers[].{member}")
        if category is not None:
            found[member] = category.id
    return found


def is_mine(element: Mapping[str, Any], customer_ids: set[str]) -> bool:
    """Whether an element of `customers[]` is this person's (by its Bookings customer id)."""
    return element.get("customerId") in customer_ids


def rewrite_body(document: Mapping[str, Any], customer_ids: set[str], expired: Iterable[str], policy: RetentionPolicy, *,
                 allow_empty: bool) -> tuple[dict[str, Any], bool]:
    """The PATCH of a kept appointment, and whether this person's element was left out."""
    gone = set(expired)
    members = element_categories(policy)
    held = set(members.values()) - gone
    elements, removed = [], False
    for element in document.get("customers") or ():
        if not is_mine(element, customer_ids):
            elements.append(_whole(element))
        elif not any(element.get(m) for m, c in members.items() if c in held):
            removed = True                      # nothing of the person is kept here: the element goes
        else:
            elements.append(_blanked(element, {m for m, c in members.items() if c in gone}))
    if removed and not elements and not allow_empty:
        removed = False
        elements = [_blanked(e, set(ELEMENT_FIELDS)) for e in document.get("customers") or () if is_mine(e, customer_ids)]
    body: dict[str, Any] = {"@odata.type": APPOINTMENT_TYPE, "customers": elements}
    for key in APPOINTMENT_FREE_TEXT:
        category = policy.for_field(key)
        if document.get(key) and category is not None and category.id in gone:
            body[key] = ""
    return body, removed


def strip_body(document: Mapping[str, Any], *, allow_empty: bool) -> dict[str, Any]:
    """The PATCH before a DELETE: no customer left to mail, and customer mail switched off."""
    elements = [] if allow_empty else [_blanked(e, set(ELEMENT_FIELDS)) for e in document.get("customers") or ()]
    body: dict[str, Any] = {"@odata.type": APPOINTMENT_TYPE, "customers": elements, "optOutOfCustomerEmail": True}
    body.update({key: "" for key in APPOINTMENT_FREE_TEXT if document.get(key)})
    return body


def _whole(element: Mapping[str, Any]) -> dict[str, Any]:
    """Another customer's element exactly as read, with the type a PATCH requires."""
    return {**element, "@odata.type": ELEMENT_TYPE}


def _blanked(element: Mapping[str, Any], members: set[str]) -> dict[str, Any]:
    kept = {k: v for k, v in element.items() if k not in members}
    return {**kept, **{m: ELEMENT_FIELDS[m] for m in members}, "@odata.type": ELEMENT_TYPE}
