"""What of one person a Graph surface still holds: the read-back's eyes.

The person's values come decrypted from the ledger (`needles`), before any key is destroyed;
each surface's JSON is reduced to the strings that can carry personal data (`appointment_texts`,
`event_texts`, `customer_texts`), and `residue` names the places where a value is still found:
as text (case-folded), and for emails and phone numbers also in normalised form, so
"ADA@Example.com" or "020 7946 0018" is caught as well as the stored spelling. Nothing here logs
or returns a value: only the names of the places.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from html import escape
from typing import Any

import phonenumbers

from ledger.identifiers import IdentifierError, normalise_email, normalise_phone

# Stored field names (jobs/classify.py) whose values can show up on a surface as text; the
# booking's own facts (start, end, service) stay on a kept appointment by design: they are the
# other customers' and the business's too.
SUBJECT_TEXT_FIELDS = frozenset({"name", "email", "phone", "email_text", "phone_text", "time_zone", "phones", "addresses"})
BOOKING_TEXT_FIELDS = frozenset({"customer_notes", "answers", "service_notes", "notes"})
# Legacy flat fields no PATCH can change (graph-facts §1.5), and an element's notes, which Graph
# computes from the customer once the element exists (§1.3): reachable only by deleting.
UNPATCHABLE = frozenset({"customerName", "customerEmailAddress", "customerPhone", "customerNotes", "customers[].notes"})
ELEMENT_TEXT = ("name", "emailAddress", "phone", "notes", "timeZone")
APPOINTMENT_TEXT = ("serviceNotes", "additionalInformation", "customerName", "customerEmailAddress", "customerPhone",
                    "customerNotes")
_EMAIL = re.compile(r"[^\s<>\"',;:()\[\]]+@[^\s<>\"',;:()\[\]]+")
MIN_NEEDLE = 3  # shorter values ("36") would match inside unrelated text; they are checked as whole fields


@dataclass(frozen=True)
class Needles:
    """The person's values to look for: texts, and the canonical emails and phone numbers."""

    texts: frozenset[str] = frozenset()
    whole: frozenset[str] = frozenset()          # short values: a field equal to one of them
    emails: frozenset[str] = frozenset()
    phones: frozenset[str] = frozenset()
    region: str = field(default="US")


def needles(values: Mapping[str, str], categories: Mapping[str, str], expired: Iterable[str], *, prefix: str | None,
            region: str) -> Needles:
    """The values of the expired categories a surface of this record must no longer hold: the
    subject-level fields, and the booking-level ones of this appointment (`prefix`), if any."""
    gone = set(expired)
    texts: set[str] = set()
    for name, value in values.items():
        owner, _, short = name.rpartition(".")
        mine = short in SUBJECT_TEXT_FIELDS if not owner else owner == prefix and short in BOOKING_TEXT_FIELDS
        if mine and categories.get(name) in gone:
            texts.update(_strings(short, value))
    texts = {t.strip() for t in texts if t and t.strip()}
    emails = {e for t in texts if "@" in t and (e := _canonical(normalise_email, t))}
    phones = {p for t in texts if any(c.isdigit() for c in t) and (p := _canonical(lambda v: normalise_phone(v, region), t))}
    return Needles(frozenset(t.casefold() for t in texts if len(t) >= MIN_NEEDLE),
                   frozenset(t.casefold() for t in texts if len(t) < MIN_NEEDLE), frozenset(emails), frozenset(phones), region)


def residue(texts: Mapping[str, list[str]], found: Needles) -> list[str]:
    """The places (keys of `texts`) where any of the person's values is still found, sorted."""
    return sorted(place for place, strings in texts.items() if any(_holds(s, found) for s in strings))


def appointment_texts(document: Mapping[str, Any], others: set[str]) -> dict[str, list[str]]:
    """Place -> strings of an appointment that can hold a customer's data; the elements of other
    customers (customer ids in `others`) are left out: they are sent back whole, by design."""
    texts = {key: [str(document[key])] for key in APPOINTMENT_TEXT if document.get(key)}
    for element in document.get("customers") or ():
        if element.get("customerId") not in others:
            for place, strings in _element_texts(element).items():
                texts.setdefault(place, []).extend(strings)
    return texts


def copy_needles(found: Needles, document: Mapping[str, Any], others: set[str]) -> Needles:
    """The needles to look for on the appointment's calendar copy: those no other customer's element
    holds too. The copy's body shows every customer's answers, so a value two customers share
    (both heard of the business from a "Flyer") is the other's as much as this person's: it stays
    there for them, where a needle would find it forever, and cutting it out would cut theirs."""
    shared = [s.casefold() for e in document.get("customers") or () if e.get("customerId") in others
              for strings in _element_texts(e).values() for s in strings]
    return replace(found, texts=frozenset(n for n in found.texts if not any(n in s for s in shared)),
                   whole=found.whole - {s.strip() for s in shared})


def _element_texts(element: Mapping[str, Any]) -> dict[str, list[str]]:
    """Place -> strings of one customer element of an appointment."""
    texts = {f"customers[].{key}": [str(element[key])] for key in ELEMENT_TEXT if element.get(key)}
    if element.get("location"):
        texts["customers[].location"] = [json.dumps(element["location"])]
    answers = [str(part) for a in element.get("customQuestionAnswers") or ()
               for part in [a.get("answer"), *(a.get("selectedOptions") or ())] if part]
    if answers:
        texts["customers[].customQuestionAnswers"] = answers
    return texts


def event_texts(event: Mapping[str, Any]) -> dict[str, list[str]]:
    """Place -> strings of a mailbox event that can hold a customer's data. Not its attendees: on a
    Bookings copy they are the staff only, never the customers (graph-facts §2.1, bookings-samples#7),
    so a name found there is a staff member's (a customer named like one: the soak found it, and
    the operation failed after five rewrites, which cannot change attendees anyway)."""
    texts = {key: [str(event[key])] for key in ("subject", "bodyPreview") if event.get(key)}
    if (event.get("body") or {}).get("content"):
        texts["body"] = [event["body"]["content"]]
    if (event.get("location") or {}).get("displayName"):
        texts["location"] = [event["location"]["displayName"]]
    return texts


def customer_texts(customer: Mapping[str, Any]) -> dict[str, list[str]]:
    """Place -> strings of a Bookings customer record."""
    texts = {key: [str(customer[key])] for key in ("displayName", "emailAddress") if customer.get(key)}
    phones = [str(p.get("number")) for p in customer.get("phones") or () if p.get("number")]
    addresses = [str(v) for a in customer.get("addresses") or () for v in a.values() if v]
    texts.update({k: v for k, v in (("phones", phones), ("addresses", addresses)) if v})
    return texts


def redacted(text: str, found: Needles) -> str:
    """`text` with every occurrence of the person's values removed (plain and HTML-escaped spellings)."""
    for needle in sorted(found.texts, key=len, reverse=True):
        for spelling in {needle, escape(needle, quote=False), escape(needle)}:
            text = re.sub(re.escape(spelling), "", text, flags=re.IGNORECASE)
    return text


def _holds(text: str, found: Needles) -> bool:
    folded = text.casefold()
    if folded.strip() in found.whole or any(n in folded for n in found.texts):
        return True
    if found.emails and any(_canonical(normalise_email, m) in found.emails for m in _EMAIL.findall(text)):
        return True
    if found.phones:
        for match in phonenumbers.PhoneNumberMatcher(text, found.region, leniency=phonenumbers.Leniency.POSSIBLE):
            if phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164) in found.phones:
                return True
    return False


def _strings(short: str, value: str) -> list[str]:
    """The searchable strings of a stored value: answers, phones and addresses are JSON lists."""
    if short not in ("answers", "phones", "addresses"):
        return [value]
    parts: list[str] = []

    def walk(item: object) -> None:
        if isinstance(item, list):
            for inner in item:
                walk(inner)
        elif isinstance(item, str):
            parts.append(item)

    loaded = json.loads(value)
    # An answer is [question id, question, answer, options]: the question is the business's text.
    walk([[a[2], a[3]] for a in loaded] if short == "answers" else loaded)
    return parts


def _canonical(normalise: Any, value: str) -> str | None:
    try:
        return normalise(value)
    except IdentifierError:
        return None
