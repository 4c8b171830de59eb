"""Finding a tenant's personal values in text (log lines, mostly): the values Graph holds, and a
normalised scan, so an address logged in capitals or a number logged without its spaces is found.

    values = personal_values(control.state())      # names, emails, phones, streets, notes
    found = personal_values_in(text, values)       # the values the text carries (empty: none)

tests/jobs/test_logs_carry_no_personal_data.py scans one pipeline's output with it, and the soak
(tests/soak/checks.py) every line of every process it ran.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import phonenumbers

# Shorter values (a first name such as "Ada", a two-digit note) would be found in ids and words
# that are no one's data; every seeded name, address and number is longer.
SHORTEST = 5
# A phone's own digits are at least this long: fewer would match parts of ids and timestamps.
SHORTEST_PHONE_DIGITS = 7
# A written phone number: digits, maybe a leading +, with spaces, dots, dashes or brackets between.
_PHONE_LIKE = re.compile(r"\+?\d[\d\s().-]*\d")


def personal_values(state: dict[str, Any]) -> set[str]:
    """Every name, email address, phone number (as written and in E.164), street and note the tenant holds."""
    values: set[str] = set()
    for business in state["businesses"]:
        for customer in business["customers"]:
            values |= {customer["displayName"], customer["emailAddress"]}
            values |= {phone["number"] for phone in customer["phones"]}
            values |= {address["street"] for address in customer["addresses"]}
        for appointment in (business["appointments"] or []) + business.get("cancelledAppointments", []):
            values |= {appointment.get(name) or "" for name in ("customerName", "customerEmailAddress", "customerPhone",
                                                                  "customerNotes")}
            for customer in appointment.get("customers", []):
                values |= {customer["name"], customer["emailAddress"], customer["phone"]}
    values |= {_e164(value) for value in values if value and value.startswith("+")}
    return {value for value in values if value and len(value) >= SHORTEST}


def personal_values_in(text: str, values: Iterable[str]) -> list[str]:
    """The values `text` carries, sorted: any value case-insensitively, and phone numbers also by
    their digits alone, however the text writes them ("+1 (312) 555-0100" found as "13125550100")."""
    folded = text.casefold()
    found = {value for value in values if value.casefold() in folded}
    phones = {_digits(value): value for value in values if _is_phone(value)}
    if phones:
        written = {_digits(match) for match in _PHONE_LIKE.findall(text)}
        found |= {value for digits, value in phones.items() if any(digits in run for run in written)}
    return sorted(found)


def _is_phone(value: str) -> bool:
    return bool(re.fullmatch(r"\+?[\d\s().-]+", value)) and len(_digits(value)) >= SHORTEST_PHONE_DIGITS


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _e164(number: str) -> str:
    return phonenumbers.format_number(phonenumbers.parse(number), phonenumbers.PhoneNumberFormat.E164)
